"""Refuse to import code that appeared or changed while a submission was running.

A submission runs with the learner's permissions, so it can write files where the grader
will later import from: a `pdb.py` in the folder on the grader's sys.path, a forged
`__pycache__/*.pyc` beside a module pytest or rich imports lazily, or beside one the
reference's child imports. Every such file has a change time (ctime, which no user can
set back) after the submission started. This finder sits first on sys.meta_path, lets the
real finders locate each module, and refuses the module when its source or its cached
bytecode changed after `since_ns`.

Imported by the parent as grader.importguard and by the child runner as a top-level
module, so it imports nothing from the grader package.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys


class TamperedModule(ImportError):
    """A module's file changed while the submission ran."""


def written_since(path, since_ns: int) -> bool:
    """Whether the file at the absolute path was written (or its metadata changed) at or
    after since_ns; False for anything that is not a file path (built-in, frozen modules)."""
    if not path or not isinstance(path, str) or not os.path.isabs(path):
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    return max(st.st_ctime_ns, st.st_mtime_ns) >= since_ns


class FreshFileGuard:
    def __init__(self, since_ns: int):
        self.since_ns = since_ns
        self.refused: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        spec = None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        if spec is None:
            return None
        for file in (spec.origin, spec.cached):
            if not written_since(file, self.since_ns):
                continue
            if not (file == spec.cached and genuine_cache(file, spec.origin)):
                detail = f"{fullname} from {file}{_set_aside(file)}"
                self.refused.append(detail)
                raise TamperedModule(f"refused to import {detail}: the file was written while the "
                                     f"submission ran")
        return spec

    # Some importers call these on meta path entries.
    def invalidate_caches(self):
        pass


def genuine_cache(pyc: str, source: str | None) -> bool:
    """True when the bytecode in pyc is what compiling its source gives: another grading
    started at the same time may write the kit's caches legitimately; a forged one holds
    other code. (Code objects compare by their instructions, constants and names.)"""
    try:
        data = open(pyc, "rb").read()
        if not source or data[:4] != importlib.util.MAGIC_NUMBER:
            return False
        with open(source, "rb") as f:
            expected = compile(f.read(), source, "exec", dont_inherit=True)
        return marshal.loads(data[16:]) == expected
    except Exception:
        return False


def _set_aside(path: str) -> str:
    """Move a refused file out of the import path, or a later grading (when it is no longer
    new) would import it: a bytecode cache is deleted, anything else renamed beside itself."""
    try:
        if path.endswith(".pyc"):
            os.unlink(path)
            return " (deleted)"
        aside = path + ".refused-by-grader"
        os.replace(path, aside)
        return f" (moved to {aside})"
    except OSError:
        return ""


def install(since_ns: int) -> FreshFileGuard:
    """Put a guard first on sys.meta_path (once per process; the earliest time wins)."""
    for finder in sys.meta_path:
        if isinstance(finder, FreshFileGuard):
            finder.since_ns = min(finder.since_ns, since_ns)
            return finder
    guard = FreshFileGuard(since_ns)
    sys.meta_path.insert(0, guard)
    return guard


STARTUP_FILES = ("sitecustomize.py", "usercustomize.py")


def planted_files(since_ns: int, folders: list[str], exclude=(), set_aside_modules=False) -> list[str]:
    """Files written at or after since_ns that a later Python start or import would run:
    .pth and *customize.py files and new modules at the top of the import folders (they run
    before any guard is installed), and the source or bytecode of every module this process
    has loaded (it loads the same ones at start next time). Start-up files are set aside and a
    forged .pyc deleted; a genuine .pyc (a concurrent grading) is left alone. Modules are set
    aside too with set_aside_modules (when no import of the grader's met them, the guard did not)."""
    found = []
    seen = set()
    for folder in folders:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for name in entries:
            path = os.path.join(folder, name)
            if not name.endswith((".pth", ".py")) or path in seen or os.path.realpath(path) in exclude:
                continue
            seen.add(path)
            try:
                st = os.stat(path)
            except OSError:
                continue
            if max(st.st_ctime_ns, st.st_mtime_ns) >= since_ns:
                # start-up hooks are moved away; a module is only named (it may be someone's work)
                startup = name.endswith(".pth") or name in STARTUP_FILES
                found.append(f"{path}{_set_aside(path) if startup or set_aside_modules else ''}")
    for module in list(sys.modules.values()):
        source, cached = getattr(module, "__file__", None), getattr(module, "__cached__", None)
        if written_since(cached, since_ns) and not genuine_cache(cached, source):
            found.append(f"{cached}{_set_aside(cached)}")
        if written_since(source, since_ns) and isinstance(source, str) and source.endswith(".py"):
            found.append(f"{source} (a module the grader had loaded; restore it)")
    return found
