"""Kernel-enforced: the learner's child cannot read the reference solutions (Linux Landlock).

The audit hook in child.py is a tripwire that Python code can switch off (it lives in the
same interpreter). Landlock is enforced by the kernel for the process and everything it
starts, whatever path leads to a file (relative to a directory descriptor, via
/proc/PID/root, a symlink). Landlock only grants; so the ruleset handles the read rights and
grants them everywhere except below the denied paths: at each folder on the way from / to
a denied one, every other entry is granted. Listing folders stays allowed everywhere (a
denied folder's file names are no secret, its files stay unreadable); writing and everything
else stay as they were.

Imported by the child runner as a top-level module: it imports nothing from the grader.
"""

from __future__ import annotations

import ctypes
import os

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446   # the same on x86_64 and arm64
_VERSION_FLAG = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
WRITE_FILE, READ_FILE, READ_DIR, REFER = 1 << 1, 1 << 2, 1 << 3, 1 << 13


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 or less where it has none."""
    return _libc().syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION_FLAG))


def terminals() -> list[str]:
    """The terminal devices: writing there would put text on the grader's screen, below or
    over its report, from a helper that outlives the grading."""
    try:
        names = [n for n in os.listdir("/dev") if n == "console" or n.startswith("tty")]
    except OSError:
        names = []
    return [os.path.join("/dev", n) for n in names] + ["/dev/pts"]


def deny_reads(denied: list[str], keep_readable: list[str] = ()) -> str | None:
    """Forbid this process (and its children) to read each file of `denied` and below each
    folder of it, except the files in `keep_readable`, and to open a terminal (terminals()).
    Returns None when in force, else why not (no Landlock)."""
    libc = _libc()
    abi = landlock_abi()
    if abi < 1:
        return f"Landlock unavailable ({os.strerror(ctypes.get_errno())})"
    handled = READ_FILE | WRITE_FILE | READ_DIR | (REFER if abi >= 2 else 0)
    denied = [os.path.realpath(d) for d in list(denied) + terminals() if os.path.exists(d)]
    keep = {os.path.realpath(f) for f in keep_readable}
    attr = _RulesetAttr(handled)
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        return f"Landlock ruleset refused ({os.strerror(ctypes.get_errno())})"
    try:
        on_the_way = {os.sep}
        for d in denied:
            parts = d.split(os.sep)[1:]
            on_the_way.update(os.sep + os.path.join(*parts[:i]) for i in range(1, len(parts) + 1))
        for folder in sorted(on_the_way - set(denied)):
            try:
                entries = [os.path.join(folder, e) for e in os.listdir(folder)]
            except OSError as exc:
                # Without its entries, everything below this folder would become unreadable
                # (a /home that others may not list, say): better no restriction at all.
                return f"cannot list {folder} ({exc.strerror}); Landlock not applied"
            for path in entries:
                # A symbolic link is not granted: a rule is set on what it points to, and a link
                # to a folder on the way (pytest-current, next to pytest-97) would grant all of it
                # back. Its target is granted where it really lies.
                if path not in on_the_way and path not in denied and not os.path.islink(path):
                    _grant(libc, ruleset, path, handled)
        for path in keep:   # a rule on a file grants that file, wherever it is
            _grant(libc, ruleset, path, handled)
        # Listing stays allowed everywhere (file names are no secret): without it the folders on
        # the way could not be listed, and Python's import system lists site-packages.
        _grant(libc, ruleset, os.sep, READ_DIR)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"no_new_privs refused ({os.strerror(ctypes.get_errno())})"
        if libc.syscall(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            return f"Landlock restriction refused ({os.strerror(ctypes.get_errno())})"
        return None
    finally:
        os.close(ruleset)


def _grant(libc, ruleset: int, path: str, handled: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return   # vanished, or a dangling link
    try:
        access = handled if os.path.isdir(path) else handled & (READ_FILE | WRITE_FILE)
        rule = _PathBeneath(access, fd)
        libc.syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                     ctypes.byref(rule), ctypes.c_uint32(0))
    finally:
        os.close(fd)
