"""The parent side of the sandbox: starts, feeds, times and kills the child.

The child is a separate Python process in its own session, so a learner's
infinite loop, segfault, os._exit or runaway allocation ends that process and
one check, never the grading. Its stdout and stderr go to a pipe that a thread
drains into a capped buffer; requests and replies travel on two other pipes.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader import wire
from grader.schedstat import thread_waits

CHILD_SCRIPT = Path(__file__).with_name("child.py")
OUTPUT_CAP = 64 * 1024
DEFAULT_MEMORY_LIMIT = 6 * 1024**3
LOAD_TIMEOUT_S = 60.0


IMPORT_GUARD_ENV = "CONTRASTIVE_KIT_TRUST_FILES_BEFORE_NS"


class SandboxError(Exception):
    """The child could not answer: it died, hung or ran out of memory."""

    status = "error"


class ChildTimeout(SandboxError):
    status = "timeout"


class ChildCrashed(SandboxError):
    pass


class ChildOutOfMemory(SandboxError):
    pass


class LearnerRaised(Exception):
    """The learner's code raised; carries the child's description of it."""

    def __init__(self, error: dict, target: str = ""):
        self.error = error
        self.type_name = error.get("type", "Exception")
        self.mro = error.get("mro", [])
        self.kind = error.get("kind", "exception")
        self.target = target
        super().__init__(self.describe())

    def describe(self) -> str:
        from grader.i18n import t

        where = f" ({self.error['where']})" if self.error.get("where") else ""
        if self.kind == "not_implemented":
            return t("not_implemented_call", target=self.target or "the function", where=where)
        message = self.error.get("message", "")
        who = self.target or "your code"
        return t("learner_raised", who=who, type=self.type_name, message=message, where=where).rstrip(": ")

    def is_a(self, name: str) -> bool:
        return name in self.mro


class MissingFunction(Exception):
    """The spec names a function the learner's module does not define."""


class NotRun(Exception):
    """A check cannot run because something it needs already failed."""


def _skip_exception():
    """pytest's skip outcome: hypothesis re-raises it at once instead of shrinking, so a
    function known to be a stub costs no round trip in later checks."""
    import pytest

    return pytest.skip.Exception


@dataclass
class SentCall:
    """What the parent sent to the learner for one call: shown with a failure as its input."""

    target: str
    args: list
    kwargs: dict
    handles: tuple = ()
    count: int = 1    # call_many: how many argument tuples (args holds the first)


@dataclass
class Handle:
    """An object that lives in the child (e.g. a trained encoder); used by id.

    label: how a failing input shows it (build_module's description of the module)."""

    id: int
    type: str
    label: str = ""

    def __repr__(self):
        return f"<the grader's {self.label or self.type}>"


def _forged(what: str) -> SandboxError:
    return ChildCrashed(f"crash: the reply on the grader's channel does not have the form the grader's "
                        f"child sends ({what}); was the child's protocol patched?")


def _check_reply_shape(reply: dict, n_grads: int, n_inputs: int | None) -> None:
    """A reply the genuine child could not have sent is a patched child: an empty gradient list
    would otherwise compare nothing and pass."""
    grads = reply.get("grads")
    if n_grads and not (isinstance(grads, str) or (isinstance(grads, list) and len(grads) == n_grads
                        and all(g is None or isinstance(g, wire.Received) for g in grads))):
        raise _forged(f"{n_grads} gradients were asked for")
    if n_inputs is not None:
        after = reply.get("inputs_after")
        if not isinstance(after, list) or len(after) != n_inputs:
            raise _forged(f"the {n_inputs} inputs after the call were asked for")


@dataclass
class CallResult:
    output: object
    grads: list | str | None
    inputs_after: list | None
    seconds: float  # the parent's clock, round trip included
    child_seconds: float = 0.0
    cpu_seconds: float | None = None  # CPU time of the child's whole session during the call, if measured
    budget_seconds: float | None = None  # the call on the child's busy clock, if asked (busy_clock)


@dataclass
class LoadResult:
    ok: bool
    missing: list = field(default_factory=list)
    error: dict | None = None
    defined: list = field(default_factory=list)   # the module's public callables, when names are missing


class _OutputDrain(threading.Thread):
    def __init__(self, stream, cap: int):
        super().__init__(daemon=True)
        self.stream, self.cap = stream, cap
        self.kept = bytearray()
        self.total = 0

    def run(self):
        while True:
            chunk = self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536)
            if not chunk:
                return
            self.total += len(chunk)
            room = self.cap - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _wait_until_stopped(sid: int, limit_s: float = 1.0):
    """SIGSTOP is asynchronous: wait (briefly) until the kernel reports every process of the
    session stopped, stopping again any that is still running (one forked meanwhile)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        stats = _session_stats(sid)
        if stats is None:
            return
        running = [pid for pid, fields in stats if fields[0] not in (b"T", b"t", b"Z", b"X")]
        if not running:
            return
        for pid in running:
            try:
                os.kill(pid, signal.SIGSTOP)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.001)


def _decode_handles(value):
    if isinstance(value, dict):
        if "__handle__" in value and set(value) == {"__handle__", "type"}:
            return Handle(int(value["__handle__"]), str(value["type"]))
        return {k: _decode_handles(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_handles(v) for v in value]
    return value


def _child_env(threads: int | None, trust_files_before_ns: int | None) -> dict:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    env.pop("PYTHONSTARTUP", None)
    env.pop(IMPORT_GUARD_ENV, None)
    if trust_files_before_ns is not None:
        env[IMPORT_GUARD_ENV] = str(trust_files_before_ns)
    if threads:   # numpy's BLAS and OpenMP get the same allowance as torch
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
    return env


def _spawn(env: dict):
    """A new child process: (Popen, request fd to write, reply fd to read). It imports torch,
    then waits for its setup frame; the setup says which file to import and where to run."""
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, str(CHILD_SCRIPT), str(req_r), str(rep_w)],
        pass_fds=(req_r, rep_w), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=str(CHILD_SCRIPT.parent.parent),
    )
    os.close(req_r)
    os.close(rep_w)
    return proc, req_w, rep_r


class _ForkedProcess:
    """A child forked by a zygote, with what ChildProcess uses of a Popen: pid, poll, wait,
    kill, returncode and stdout. The zygote, its parent, writes its wait status to status_fd
    when it ends; should the zygote itself die first, the child is watched by its pid."""

    def __init__(self, pid: int, stdout_fd: int, status_fd: int):
        self.pid, self.returncode = pid, None
        self.stdout = os.fdopen(stdout_fd, "rb")
        self._status: int | None = status_fd

    def _read_status(self) -> None:
        data = os.read(self._status, 4)
        os.close(self._status)
        self._status = None
        if len(data) == 4:
            self.returncode = struct.unpack("<i", data)[0]

    def poll(self):
        if self.returncode is None and self._status is not None:
            if select.select([self._status], [], [], 0)[0]:
                self._read_status()
        if self.returncode is None and self._status is None:   # the zygote is gone: by the pid
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("child", timeout)
            if self._status is not None:
                select.select([self._status], [], [], min(left, 0.5) if left is not None else 0.5)
            else:
                time.sleep(0.02)
        return self.returncode

    def kill(self):
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


class _Zygote:
    """`child.py --zygote`: a process that has imported torch (and the child's own modules, no
    grader module and no learner code) and forks a fresh child per request (child.py
    zygote_main). A forked child is what `child.py REQUEST_FD REPLY_FD` would be, less the
    second or so of importing torch."""

    def __init__(self, env: dict):
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD_SCRIPT), "--zygote", str(theirs.fileno())], pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, env=env, cwd=str(CHILD_SCRIPT.parent.parent))
        theirs.close()
        self.control = ours

    def fork(self, env: dict):
        """(a process, request fd, reply fd) as _spawn gives; OSError if the zygote is gone."""
        if self.proc.poll() is not None:
            raise OSError("the zygote has exited")
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        status_r, status_w = os.pipe()
        try:
            socket.send_fds(self.control, [json.dumps(env).encode()], [req_r, rep_w, out_w, status_w])
            self.control.settimeout(LOAD_TIMEOUT_S)
            reply = b""
            while len(reply) < 4:
                chunk = self.control.recv(4 - len(reply))
                if not chunk:
                    raise OSError("the zygote closed its socket")
                reply += chunk
        except BaseException:
            for fd in (req_w, rep_r, out_r, status_r):
                os.close(fd)
            raise
        finally:
            for fd in (req_r, rep_w, out_w, status_w):
                os.close(fd)
        (pid,) = struct.unpack("<i", reply)
        return _ForkedProcess(pid, out_r, status_r), req_w, rep_r

    def close(self) -> None:
        self.control.close()   # the zygote reads end-of-file and exits
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class WarmChildren:
    """Where one process grades many files in turn (grade dev check, watch, mock), a zygote per
    environment forks each grading's child, so that only the first pays for importing torch:
    the zygote starts (and imports torch on the other core) while the first grading runs.

    A forked child has run no learner code and holds nothing of a grading: its setup frame (sent
    by ChildProcess.launch) brings the file, the folder to run in, the limits and the guards,
    exactly as for a child started at that moment. Off unless enabled; a zygote that died (a
    submission may kill its parent) is replaced, and the child started anew meanwhile."""

    def __init__(self):
        self.enabled = False
        self._zygotes: dict[tuple, _Zygote] = {}

    @staticmethod
    def _key(env: dict) -> tuple:
        return tuple(sorted(env.items()))

    def take(self, env: dict):
        zygote = self._zygotes.get(self._key(env))
        if zygote is None:
            return None
        try:
            return zygote.fork(env)
        except (OSError, ValueError, struct.error):
            self._zygotes.pop(self._key(env), None)
            zygote.close()
            return None

    def refill(self, env: dict) -> None:
        if self.enabled and self._key(env) not in self._zygotes:
            self._zygotes[self._key(env)] = _Zygote(env)

    def close(self) -> None:
        while self._zygotes:
            self._zygotes.popitem()[1].close()


WARM = WarmChildren()
atexit.register(WARM.close)


class ChildProcess:
    """One child process running one module; restarted on demand after it dies."""

    def __init__(self, path: Path, *, require=(), guard_dirs=(), blocked_modules=(), deny_read_dirs=(),
                 private_paths=(), threads: int | None = 1, memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
                 device: str = "cpu", trust_files_before_ns: int | None = None):
        self.path = Path(path).resolve()
        # The child refuses to import a module whose file changed at or after this time
        # (grader/importguard.py): for the reference's child, the time the submission started.
        self.trust_files_before_ns = trust_files_before_ns
        self.require = list(require)
        self.guard_dirs = [str(d) for d in guard_dirs]
        # Enforced by the kernel where Linux Landlock is available (grader/landlock.py).
        self.deny_read_dirs = [str(d) for d in deny_read_dirs]
        # Data the checks keep from the submission (MNIST's labels): denied by Landlock and the hook.
        self.private_paths = [str(p) for p in private_paths]
        self.blocked_modules = list(blocked_modules)
        self.threads = threads
        self.memory_limit = memory_limit
        self.device = device
        self.proc: subprocess.Popen | None = None
        self.load: LoadResult | None = None
        self.integrity_events: list[str] = []
        self.output_total = 0
        self.output = bytearray()
        self._drain: _OutputDrain | None = None
        self._oom_killed = False
        self._setup_unsent = False
        self.starts = 0

    # -- life cycle -------------------------------------------------------
    def start(self) -> LoadResult:
        self.launch()
        return self.wait_loaded()

    def launch(self) -> None:
        """Start the process and send its setup; wait_loaded() reads how the import went.
        Between the two the parent is free (to import torch while the child does)."""
        self.close()
        env = _child_env(self.threads, self.trust_files_before_ns)
        # A warm child (WARM) has imported torch already; the reference's child, whose import
        # guard is armed by its environment before it imports anything, is always started anew.
        spawned = WARM.take(env) if self.trust_files_before_ns is None else None
        self.proc, self._req, self._rep = spawned or _spawn(env)
        if self.trust_files_before_ns is None:
            WARM.refill(env)
        self._drain = _OutputDrain(self.proc.stdout, OUTPUT_CAP)
        self._drain.start()
        self._oom_killed = False
        self.starts += 1
        on_cpu = not self.device.startswith("cuda")
        setup = {
            "path": str(self.path), "cwd": str(self.path.parent), "require": self.require,
            "threads": self.threads,
            "guard_dirs": self.guard_dirs, "blocked_modules": self.blocked_modules,
            "deny_read_dirs": self.deny_read_dirs, "private_paths": self.private_paths,
            # An address-space cap stops a huge allocation at once; CUDA needs a
            # huge virtual reservation, so there only the RSS watchdog applies.
            "memory_limit": (self.memory_limit + 2 * 1024**3) if (self.memory_limit and on_cpu) else None,
        }
        try:
            wire.write_frame(self._req, setup)
        except (BrokenPipeError, OSError):
            self._setup_unsent = True
        else:
            self._setup_unsent = False

    def wait_loaded(self) -> LoadResult:
        if self._setup_unsent:
            raise self._death("before it could receive the inputs")
        reply = self._exchange(None, LOAD_TIMEOUT_S, None, when="while importing the module")
        if reply.get("ok"):
            defined = reply.get("defined", [])
            self.load = LoadResult(True, list(reply.get("missing", [])),
                                   defined=[str(n) for n in defined[:500]] if isinstance(defined, list) else [])
        else:
            self.load = LoadResult(False, error=reply.get("error", {}))
        return self.load

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self, wait: bool = True):
        """End the child: it exits when its pipes close (given half a second), else it is
        killed; with wait=False (a child nothing was asked of) it is killed at once."""
        if self.proc is None:
            return
        if not wait and self.proc.poll() is None:
            self._kill()
        for fd in (self._req, self._rep):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                self._kill()
        self._sweep()
        self._collect_output()
        self.proc = None

    @contextlib.contextmanager
    def paused(self):
        """Stop every process of the child's session (all threads, forked helpers) for a while.

        The speed check times the reference while the learner's child is stopped, so
        work the submission leaves running between its calls (spinning threads, forked
        processes) cannot slow the reference down and flatter the ratio.
        """
        stopped = False
        if self.alive():
            stopped = _signal_session(self.proc.pid, signal.SIGSTOP)
            if stopped:
                _wait_until_stopped(self.proc.pid)
        try:
            yield
        finally:
            if stopped:
                _signal_session(self.proc.pid, signal.SIGCONT)

    def cpu_waits(self) -> dict[str, float]:
        """Seconds each thread of the child has spent ready to run but waiting for a CPU
        (/proc/PID/task/*/schedstat), read by the parent: the submission cannot change them."""
        if not self.alive():
            return {}
        return thread_waits(self.proc.pid)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time used so far by every process of the child's session (all
        threads, forked helpers, reaped children); None where /proc cannot tell."""
        if not self.alive():
            return None
        return _group_cpu_seconds(self.proc.pid)

    def _sweep(self):
        """Kill whatever the submission left behind in its session (forked helpers outlive
        the child's main process otherwise), also in process groups of their own."""
        _signal_session(self.proc.pid, signal.SIGKILL)

    def _kill(self):
        _signal_session(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def _collect_output(self):
        if self._drain is not None:
            self._drain.join(timeout=1)
            self.output_total += self._drain.total
            room = OUTPUT_CAP - len(self.output)
            self.output += self._drain.kept[:max(room, 0)]
            self._drain = None

    # -- requests ---------------------------------------------------------
    def request(self, message: dict, timeout: float, on_event=None) -> dict:
        if not self.alive():
            self.start()
            if not self.load.ok:
                raise ChildCrashed("the module could not be imported again after a restart")
        return self._exchange(message, timeout, on_event)

    def _exchange(self, message, timeout, on_event, when="while running"):
        deadline = time.monotonic() + timeout
        try:
            if message is not None:   # None: only read (the setup was sent by launch)
                wire.write_frame(self._req, message)
        except (BrokenPipeError, OSError):
            raise self._death("before it could receive the inputs") from None
        while True:
            try:
                reply = wire.read_frame(self._rep, read=self._reader(deadline, timeout))
            except ChildTimeout:
                self._kill()
                self._collect_output()
                self.proc = None
                raise
            except wire.WireError as exc:
                self._death(when)  # stops it
                raise ChildCrashed(f"crash: the process wrote a malformed reply on the grader's channel "
                                   f"{when} ({exc}); the submission must not write to the grader's "
                                   f"file descriptors") from None
            except (EOFError, OSError):
                raise self._death(when) from None
            if isinstance(reply, dict) and "event" in reply:
                if reply["event"] == "integrity":
                    self.integrity_events.append(str(reply.get("detail", "")))
                elif on_event is not None:
                    try:
                        on_event(reply)
                    except Exception:   # a display of the submission's events; the reply still comes
                        pass
                continue
            if not isinstance(reply, dict):
                raise self._death("after sending garbage")
            return reply

    def _reader(self, deadline, timeout):
        def read(fd, n):
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ChildTimeout(f"timeout: no answer within {timeout:.3g} s; the process was stopped")
                ready, _, _ = select.select([fd], [], [], min(left, 0.05))
                if ready:
                    return os.read(fd, n)
                if self.memory_limit and _rss_bytes(self.proc.pid) > self.memory_limit:
                    self._oom_killed = True
                    self._kill()
                    raise EOFError
                if self.proc.poll() is not None:
                    # drain anything written just before it exited
                    ready, _, _ = select.select([fd], [], [], 0)
                    if ready:
                        return os.read(fd, n)
                    raise EOFError

        return read

    def _death(self, when: str) -> SandboxError:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            self._kill()
        if proc is not None:
            self._sweep()
        code = proc.returncode if proc is not None else None
        self._collect_output()
        self.proc = None
        if self._oom_killed:
            gib = self.memory_limit / 1024**3
            return ChildOutOfMemory(f"memory: the process used more than {gib:.0f} GiB and was stopped")
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return ChildCrashed(f"crash: the process was killed by {name} {when}")
        return ChildCrashed(f"crash: the process exited with code {code} {when}"
                            " (sys.exit or os._exit in the submission?)")


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _session_stats(sid: int) -> list[tuple[int, list[bytes]]] | None:
    """(pid, stat fields after the name) of every process in session sid; None without /proc.

    The child is started in a session of its own. A helper that moves to another process
    group (os.setpgid) stays in the session; only os.setsid leaves it."""
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return None
    found = []
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue   # the process ended meanwhile
        # after "(comm) ": state ppid pgrp session ... utime(11) stime(12) cutime(13) cstime(14)
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 14 and int(fields[3]) == sid:
            found.append((int(entry), fields))
    return found


def _signal_session(sid: int, sig) -> bool:
    """Send sig to the session's main process group and to every other process of the session."""
    sent = False
    try:
        os.killpg(sid, sig)
        sent = True
    except (ProcessLookupError, PermissionError):
        pass
    for pid, fields in _session_stats(sid) or []:
        if int(fields[2]) != sid:
            try:
                os.kill(pid, sig)
                sent = True
            except (ProcessLookupError, PermissionError):
                pass
    return sent


def _group_cpu_seconds(sid: int) -> float | None:
    stats = _session_stats(sid)
    if not stats:
        return None
    return sum(sum(int(x) for x in fields[11:15]) for _, fields in stats) / _CLOCK_TICKS


class Learner:
    """What a check sees of the submission: call its functions, get plain data back."""

    def __init__(self, child: ChildProcess, device: str, default_timeout: float = 30.0):
        self.child = child
        self.device = device
        self.default_timeout = default_timeout
        self.hung: set[str] = set()
        self._poison: SandboxError | None = None
        # Functions found to raise NotImplementedError, with the message of the first finding;
        # `settled` are those found in an earlier check (this check's own finding stays a failure).
        self.unimplemented: dict[str, str] = {}
        self.settled_unimplemented: set[str] = set()
        self.sent: list[SentCall] = []   # this check's (or this hypothesis example's) calls

    def on(self, device: str) -> "Learner":
        """The same child, calls defaulting to another device."""
        view = Learner(self.child, device, self.default_timeout)
        view.hung = self.hung
        view.unimplemented = self.unimplemented
        view.settled_unimplemented = self.settled_unimplemented
        view.sent = self.sent
        return view

    def paused(self):
        """Context manager: the submission's processes are stopped inside it (see ChildProcess.paused)."""
        return self.child.paused()

    @property
    def threads(self) -> int | None:
        """The torch thread count the child runs with (the reference's child gets the same)."""
        return self.child.threads

    def begin_check(self):
        """A new check starts: forget the previous check's sandbox failure and calls."""
        self._poison = None
        self.settled_unimplemented.update(self.unimplemented)
        self.sent.clear()

    def begin_example(self):
        """A new hypothesis example starts: only its calls are the failing input's."""
        self.sent.clear()

    def mark_unimplemented(self, name: str, message: str):
        self.unimplemented.setdefault(name, message)

    @property
    def integrity_events(self):
        return self.child.integrity_events

    def _check_target(self, target):
        if isinstance(target, str):
            load = self.child.load
            if load is None or not load.ok:
                raise MissingFunction("the module did not import")
            if target in load.missing:
                raise MissingFunction(f"the spec asks for a function named {target}, and the file defines none")
        name = self._name(target)
        if name in self.settled_unimplemented:
            raise _skip_exception()(f"needs {name}: {self.unimplemented[name]}")

    def _record(self, target, args, kwargs, handle_kwargs=None, count=1):
        self.sent.append(SentCall(self._name(target), list(args), dict(kwargs),
                                  tuple(sorted(handle_kwargs or ())), count))

    def _raised(self, reply, target) -> LearnerRaised:
        error = LearnerRaised(reply.get("error", {}), self._name(target))
        if error.kind == "not_implemented" and isinstance(target, str):
            self.mark_unimplemented(target, error.describe())
        return error

    def call(self, target, *args, grad=None, grad_output=None, return_inputs=False,
             timeout=None, on_event=None, event_global=None, device=None, handle_kwargs=None,
             allow_slow=False, generator_seed=None, measure_cpu=False, memory_budget=None,
             backward=None, busy_clock=False,
             **kwargs) -> CallResult:
        """Run target(*args, **kwargs) in the child on `device`.

        args may hold Handles (objects kept in the child, e.g. build_module's modules).
        grad: indices of args (or True for all tensor args) whose input
        gradients of output (or of <output, grad_output>) are sent back.
        backward: True (the output) or an index into the output: the child backpropagates
        that loss (from grad_output, if given) as a training loop would, so that the
        gradients land in its modules' .grad (read them with module_state); the result's
        grads is then None, or a message saying why there was nothing to backpropagate.
        generator_seed: the child passes generator=torch.Generator(device).manual_seed(seed)
        (a generator cannot cross the process boundary, its seed can).
        measure_cpu: also measure the CPU time the child's session spends on the call.
        memory_budget: bytes the call (and its backward) may allocate beyond what the child
        holds when it starts; more fails as a LearnerRaised of kind "memory" (child.py).
        busy_clock: during the call, time.monotonic and time.perf_counter in the child run on its
        busy clock (wall time less the time its threads waited for a CPU others held, child.py
        _BusyClock), and the result's budget_seconds is the call's length on that clock as the
        parent measures it (its own wall time less the waits it reads from /proc), which a
        submission that tampers with the child's clock cannot shorten.
        """
        self._check_target(target)
        if grad is True:
            grad = [i for i, a in enumerate(args) if hasattr(a, "dtype") and a.is_floating_point()]
        request = {
            "op": "call", "target": self._target(target),
            "args": [None if isinstance(a, Handle) else a for a in args], "kwargs": kwargs,
            "handle_args": [[i, a.id] for i, a in enumerate(args) if isinstance(a, Handle)],
            "grad_args": list(grad or []), "grad_output": grad_output, "return_inputs": return_inputs,
            "device": device or self.device, "event_global": event_global,
            "handle_kwargs": {k: h.id for k, h in (handle_kwargs or {}).items()},
            "generator_seed": generator_seed, "memory_budget": memory_budget,
            "backward": None if backward is None else {"index": None if backward is True else int(backward)},
            "busy_clock": bool(busy_clock),
        }
        self._record(target, args, kwargs, handle_kwargs)
        cpu_before = self.child.cpu_seconds() if measure_cpu else None
        waits_before = self.child.cpu_waits() if busy_clock else None
        started = time.perf_counter()
        reply = self._request(request, timeout, on_event, self._name(target), allow_slow)
        seconds = time.perf_counter() - started
        cpu_after = self.child.cpu_seconds() if cpu_before is not None else None
        budget_seconds = None
        if waits_before is not None:   # the busy clock, measured here where the submission cannot reach
            waits = self.child.cpu_waits()
            lost = max([w - waits_before.get(tid, 0.0) for tid, w in waits.items()] or [0.0])
            budget_seconds = max(seconds - lost, 0.0)
        if not reply.get("ok"):
            raise self._raised(reply, target)
        _check_reply_shape(reply, len(grad or []), len(args) if return_inputs else None)
        return CallResult(
            output=_decode_handles(reply.get("output")),
            grads=[g.tensor if isinstance(g, wire.Received) else g for g in reply["grads"]]
            if isinstance(reply.get("grads"), list) else reply.get("grads"),
            inputs_after=reply.get("inputs_after"),
            seconds=seconds,
            child_seconds=float(reply.get("seconds") or 0.0),
            cpu_seconds=(cpu_after - cpu_before) if cpu_after is not None and cpu_after >= cpu_before else None,
            budget_seconds=budget_seconds,
        )

    def call_many(self, target, arg_list, timeout=None, generator_seed=None, **kwargs) -> list:
        """Run target on many argument tuples in one round trip (no gradients).

        generator_seed: one generator, seeded once, is passed to every call in turn.
        """
        self._check_target(target)
        request = {"op": "call_many", "target": self._target(target), "arg_list": arg_list,
                   "kwargs": kwargs, "device": self.device, "generator_seed": generator_seed}
        if arg_list:
            self._record(target, arg_list[0], kwargs, count=len(arg_list))
        reply = self._request(request, timeout, None, self._name(target), False)
        if not reply.get("ok"):
            raise self._raised(reply, target)
        outputs = reply.get("outputs")
        if not isinstance(outputs, list) or len(outputs) != len(arg_list):
            raise _forged(f"{len(arg_list)} outputs were asked for")
        return _decode_handles(outputs)

    def _request(self, request, timeout, on_event, name, allow_slow):
        # Within one check, a hang or crash is not retried: hypothesis would
        # otherwise replay every example against a dead or hung child.
        if self._poison is not None:
            raise self._poison
        if name in self.hung:
            raise NotRun(f"{name} timed out in an earlier check")
        try:
            return self.child.request(request, timeout or self.default_timeout, on_event)
        except SandboxError as exc:
            self._poison = exc
            if isinstance(exc, ChildTimeout) and not allow_slow:
                self.hung.add(name)
            raise

    def put(self, value, device=None, timeout=None) -> Handle:
        """Keep value (e.g. a large input tensor, moved to device) in the child; pass it by handle_kwargs.

        Lets a speed check send a large input once, outside the timed calls.
        """
        request = {"op": "put", "value": value, "device": device or self.device}
        reply = self._request(request, timeout, None, "put", False)
        if not reply.get("ok"):
            raise LearnerRaised(reply.get("error", {}), "put")
        return _decode_handles(reply["output"])

    def build_module(self, description: dict, label: str = "", device=None, timeout=None) -> Handle:
        """A torch.nn.Sequential built in the child from plain data (child.py _build_module):
        {"layers": [["linear", 3, 4], ["tanh"], ["batchnorm", 4], ...], "dtype": "float64",
        "state": its state_dict, optionally "grads": {parameter name: tensor}}."""
        request = {"op": "build_module", "description": description, "device": device or self.device}
        reply = self._request(request, timeout, None, "build_module", False)
        if not reply.get("ok"):
            raise LearnerRaised(reply.get("error", {}), "build_module")
        handle = _decode_handles(reply["output"])
        handle.label = label
        return handle

    def module_state(self, handle: Handle, timeout=None) -> dict:
        """A module's "parameters", "grads" (None where none) and "buffers" as {name: tensor},
        and for a build_module module "largest_grad_batch" and "grad_forwards": the largest batch
        its first layer took with grad enabled, and how many such forward passes there were."""
        reply = self._request({"op": "module_state", "handle": handle.id}, timeout, None, "module_state", False)
        if not reply.get("ok"):
            raise LearnerRaised(reply.get("error", {}), "module_state")
        return wire.unwrap(reply["output"])

    def loss_function(self, name: str, label: str = "", timeout=None, **options) -> Handle:
        """A loss function of the child's own (child.py _LOSSES[name](**options)), to pass to a
        submission that takes one."""
        reply = self._request({"op": "loss_fn", "name": name, "options": options}, timeout, None,
                              "loss_fn", False)
        if not reply.get("ok"):
            raise LearnerRaised(reply.get("error", {}), "loss_fn")
        handle = _decode_handles(reply["output"])
        handle.label = label or name
        return handle

    def release(self, handle: Handle):
        if self.child.alive():
            self.child.request({"op": "release", "handle": handle.id}, 10)

    def seed_torch(self, seed: int):
        """torch.manual_seed(seed) in the child (e.g. before it builds a model that a check compares)."""
        reply = self._request({"op": "seed", "seed": int(seed)}, 10, None, "seed", False)
        if not reply.get("ok"):
            raise LearnerRaised(reply.get("error", {}), "seed")

    @staticmethod
    def _target(target):
        if isinstance(target, Handle):
            return {"handle": target.id}
        if isinstance(target, tuple):
            handle, attr = target
            return {"handle": handle.id, "attr": attr}
        return target

    @staticmethod
    def _name(target):
        if isinstance(target, str):
            return target
        if isinstance(target, Handle):
            return target.type
        if isinstance(target, tuple):
            return f"{target[0].type}.{target[1]}"
        return "your code"
