"""The learner's state: progress, revealed hints, quiz results and mock history.

Everything lives in one JSON file, ``progress.json``, in the state folder:

* ``$CONTRASTIVE_KIT_STATE_DIR`` when set (tests use it), else
* ``$XDG_STATE_HOME/contrastive-kit`` when XDG_STATE_HOME is an absolute path, else
* ``~/.local/state/contrastive-kit``.

Writes are atomic (a temporary file in the same folder, then ``os.replace``) and
serialized with an advisory lock. A state file that cannot be read or parsed is
reported in one line on stderr and renamed to ``progress.json.corrupt-<timestamp>``;
the command then goes on with a fresh state. Nothing here ever raises into a
command because of the state file: problems become one-line warnings.

Pristine copies of the stubs (for ``grade reset`` when the learner edits the kit's
own stub in place) are kept next to it, in ``stubs/<exercise>.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

STATE_ENV = "CONTRASTIVE_KIT_STATE_DIR"
FILE_NAME = "progress.json"
VERSION = 1
MAX_ATTEMPTS_KEPT = 500  # per exercise; the totals are kept in counters
PRISTINE_TOLERANCE_S = 120.0  # a stub saved this long after its spec.md is taken as edited

_warned: set[str] = set()


# ----------------------------------------------------------------------------- paths, time


def state_dir() -> Path:
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "contrastive-kit"


def state_path() -> Path:
    return state_dir() / FILE_NAME


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def parse_time(text) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def stamp() -> str:
    """A timestamp for file names: 20250131-142501."""
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def warn(message: str) -> None:
    """One line on stderr, once per message per process."""
    if message not in _warned:
        _warned.add(message)
        sys.stderr.write(f"grade: warning: {message}\n")
        sys.stderr.flush()


# ----------------------------------------------------------------------------- load / save


def empty_state() -> dict:
    return {"version": VERSION, "exercises": {}, "quiz": {"sessions": [], "questions": {}},
            "mocks": []}


ENTRY_FIELDS = {"hints_shown": int, "attempts_total": int, "resets": int,
                "attempts_to_first_pass": int, "hints_at_first_pass": int,
                "best_score": (int, float), "started": str, "first_attempt": str,
                "last_attempt": str, "first_pass": str, "solution_seen": str,
                "solution_seen_before_pass": bool}


def _valid(data) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("version"), int):
        return False
    if not isinstance(data.get("exercises", {}), dict):
        return False
    for entry in data.get("exercises", {}).values():
        if not isinstance(entry, dict):
            return False
        if not isinstance(entry.get("attempts", []), list):
            return False
        if not all(isinstance(a, dict) for a in entry.get("attempts", [])):
            return False
        for key, kinds in ENTRY_FIELDS.items():
            if key in entry and not isinstance(entry[key], kinds):
                return False
        if not isinstance(entry.get("hint_times", []), list):
            return False
    quiz = data.get("quiz", {})
    if not isinstance(quiz, dict) or not isinstance(quiz.get("sessions", []), list):
        return False
    if not all(isinstance(s, dict) and isinstance(s.get("answers", []), list)
               and all(isinstance(a, dict) for a in s.get("answers", []))
               for s in quiz.get("sessions", [])):
        return False
    if not isinstance(quiz.get("questions", {}), dict):
        return False
    if not all(isinstance(q, dict) for q in quiz.get("questions", {}).values()):
        return False
    mocks = data.get("mocks", [])
    return isinstance(mocks, list) and all(isinstance(m, dict) for m in mocks)


def _normalize(data: dict) -> dict:
    base = empty_state()
    base.update(data)
    base["quiz"].setdefault("sessions", [])
    base["quiz"].setdefault("questions", {})
    return base


def _set_aside(path: Path, reason: str) -> bool:
    """Rename an unusable state file out of the way; True when it is gone."""
    target = path.with_name(f"{path.name}.corrupt-{stamp()}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp()}-{n}")
    try:
        os.replace(path, target)
    except OSError as exc:
        warn(f"the progress file {path} is unusable ({reason}) and could not be set aside "
             f"({exc.strerror or exc}); progress is not saved in this run")
        return False
    warn(f"the progress file {path} was unusable ({reason}); it was renamed to {target.name} "
         f"and a fresh one is started")
    return True


class State:
    """The loaded state; ``writable`` is False when saving could destroy something."""

    def __init__(self, data: dict, path: Path, writable: bool = True):
        self.data = data
        self.path = path
        self.writable = writable


def load() -> State:
    """The current state; never raises. A corrupt or unreadable file is set aside."""
    path = state_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return State(empty_state(), path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = f"cannot read it: {getattr(exc, 'strerror', None) or exc}"
        return State(empty_state(), path, writable=_set_aside(path, reason))
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return State(empty_state(), path, writable=_set_aside(path, f"not valid JSON: {exc}"))
    if isinstance(data, dict) and isinstance(data.get("version"), int) and data["version"] > VERSION:
        warn(f"the progress file {path} was written by a newer contrastive-kit "
             f"(format {data['version']}); it is left as it is and progress is not saved")
        return State(empty_state(), path, writable=False)
    if not _valid(data):
        return State(empty_state(), path, writable=_set_aside(path, "unexpected content"))
    return State(_normalize(data), path)


def save(state: State) -> bool:
    """Write atomically; a failure is a one-line warning. True when written."""
    if not state.writable:
        return False
    path = state.path
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state.data, fh, indent=1, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
        return True
    except OSError as exc:
        warn(f"could not save progress to {path}: {exc.strerror or exc}")
        return False
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def _lock():
    """An advisory lock on state/progress.lock (POSIX), so concurrent commands don't lose updates."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fh = None
    try:
        state_dir().mkdir(parents=True, exist_ok=True)
        fh = open(state_dir() / "progress.lock", "a")
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    except OSError:
        if fh is not None:
            fh.close()
        fh = None
    try:
        yield
    finally:
        if fh is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()


@contextlib.contextmanager
def update():
    """Load, let the caller change ``state.data``, save atomically; never raises for I/O."""
    with _lock():
        state = load()
        before = json.dumps(state.data, sort_keys=True)
        yield state
        if json.dumps(state.data, sort_keys=True) != before:
            save(state)


def read() -> dict:
    """The state's data, for commands that only display it."""
    return load().data


def read_setting(name: str) -> str | None:
    """A learner's setting (`grade lang`), read quietly: an unreadable file gives None here and
    is reported by the commands that need the whole state."""
    try:
        data = json.loads(state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    settings = data.get("settings") if isinstance(data, dict) else None
    value = settings.get(name) if isinstance(settings, dict) else None
    return value if isinstance(value, str) else None


def write_setting(name: str, value: str) -> None:
    with update() as state:
        settings = state.data.setdefault("settings", {})
        if not isinstance(settings, dict):
            settings = state.data["settings"] = {}
        settings[name] = value


# ----------------------------------------------------------------------------- per exercise


def entry(data: dict, name: str) -> dict:
    ex = data["exercises"].setdefault(name, {})
    ex.setdefault("attempts", [])
    ex.setdefault("hints_shown", 0)
    ex.setdefault("hint_times", [])
    return ex


def touch(name: str, data: dict | None = None) -> None:
    """Note the learner's first activity on an exercise (time to first pass counts from it)."""
    if data is not None:
        entry(data, name).setdefault("started", now_iso())
        return
    with update() as state:
        entry(state.data, name).setdefault("started", now_iso())


def summarize(report) -> dict:
    categories: dict[str, list[int]] = {}
    for category, checks in report.by_category():
        categories[category] = [sum(c.status.value == "passed" for c in checks), len(checks)]
    counts = report.counts()
    total = len(report.checks)
    return {"passed": report.passed, "passed_checks": counts["passed"], "total_checks": total,
            "score": round(counts["passed"] / total, 4) if total else 0.0,
            "categories": categories}


def record_grading(exercise, report, *, filtered: bool = False, mode: str = "grade") -> None:
    """Record one grading of the learner's file; never raises.

    A grading restricted with --only/--skip (``filtered``) counts as an attempt but
    neither as a pass nor for the best score.
    """
    try:
        summary = summarize(report)
        with update() as state:
            ex = entry(state.data, exercise.name)
            at = now_iso()
            ex.setdefault("started", at)
            ex.setdefault("first_attempt", at)
            ex["attempts_total"] = int(ex.get("attempts_total", len(ex["attempts"]))) + 1
            ex["last_attempt"] = at
            attempt = {"at": at, "mode": mode, "filtered": bool(filtered), "seed": report.seed,
                       **summary}
            ex["attempts"].append(attempt)
            del ex["attempts"][:-MAX_ATTEMPTS_KEPT]
            if not filtered:
                ex["best_score"] = max(float(ex.get("best_score", 0.0)), summary["score"])
                if summary["passed"] and "first_pass" not in ex:
                    ex["first_pass"] = at
                    ex["attempts_to_first_pass"] = ex["attempts_total"]
                    ex["hints_at_first_pass"] = ex["hints_shown"]
        _snapshot_if_pristine(exercise)
    except Exception as exc:  # recording must never break a grading
        warn(f"could not record progress: {type(exc).__name__}: {exc}")


def status(ex: dict | None) -> str:
    if not ex or not (ex.get("attempts") or ex.get("attempts_total")):
        return "not started"
    return "passed" if ex.get("first_pass") else "attempted"


def time_to_first_pass(ex: dict) -> float | None:
    start, done = parse_time(ex.get("started")), parse_time(ex.get("first_pass"))
    if start is None or done is None:
        return None
    return max(0.0, (done - start).total_seconds())


def reveal_hint(name: str, total: int) -> tuple[int, bool]:
    """Mark the next hint shown; returns (number shown now, saved)."""
    with update() as state:
        ex = entry(state.data, name)
        ex.setdefault("started", now_iso())
        shown = min(int(ex["hints_shown"]), total)
        if shown < total:
            shown += 1
            ex["hints_shown"] = shown
            ex["hint_times"].append(now_iso())
        saved = state.writable
    return shown, saved


def hints_shown(name: str, data: dict | None = None) -> int:
    data = read() if data is None else data
    return int(data["exercises"].get(name, {}).get("hints_shown", 0))


def record_solution_seen(name: str) -> bool:
    """Note that the reference solution of ``name`` was shown: the first time, and whether
    that was before the exercise was passed (``grade solution --force``). True when saved."""
    with update() as state:
        ex = entry(state.data, name)
        if "solution_seen" not in ex:
            ex["solution_seen"] = now_iso()
        if not ex.get("first_pass"):
            ex["solution_seen_before_pass"] = True
        saved = state.writable
    return saved


def record_quiz(session: dict) -> None:
    with update() as state:
        quiz = state.data["quiz"]
        quiz["sessions"].append(session)
        for answer in session.get("answers", []):
            q = quiz["questions"].setdefault(answer["id"], {"asked": 0, "correct": 0})
            q["asked"] = int(q.get("asked", 0)) + 1
            q["correct"] = int(q.get("correct", 0)) + (1 if answer["correct"] else 0)
            q["last"] = session.get("at")


def record_mock(summary: dict) -> None:
    with update() as state:
        state.data["mocks"].append(summary)


# ----------------------------------------------------------------------------- pristine stubs


def snapshot_path(name: str) -> Path:
    return state_dir() / "stubs" / f"{name}.py"


def stub_looks_pristine(exercise) -> bool:
    """The kit's stub was not saved well after its spec.md / info.toml (a clone or an install
    writes them together; a learner's edit comes later)."""
    try:
        stub = exercise.stub.stat().st_mtime
        others = [p.stat().st_mtime for p in (exercise.spec, exercise.folder / "info.toml")
                  if p.exists()]
    except OSError:
        return False
    return bool(others) and stub <= max(others) + PRISTINE_TOLERANCE_S


def _snapshot_if_pristine(exercise) -> bool:
    """Keep a copy of the kit's stub the first time it is seen untouched. True if one exists."""
    target = snapshot_path(exercise.name)
    if target.is_file():
        return True
    if not stub_looks_pristine(exercise):
        return False
    try:
        text = exercise.stub.read_text(encoding="utf-8")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".stub-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
        return True
    except OSError:
        return False


def snapshot_stubs(exercises) -> None:
    """Called by list/spec/hint/init/watch/mock: snapshot stubs that are still untouched."""
    for exercise in exercises:
        try:
            _snapshot_if_pristine(exercise)
        except Exception:  # a snapshot is a convenience; never fail a command over it
            pass


def pristine_stub(exercise, learner: Path) -> tuple[str | None, str]:
    """The original stub text for ``learner``, and where it comes from (or why there is none).

    Inside a workspace (``grade init``) the kit's own ``exercises/NAME/stub.py`` is the
    original. When the learner edits the kit's stub in place, the original is the
    snapshot the kit took the first time it saw that stub untouched.
    """
    from grader.i18n import localized, strip_stamp

    translated = localized(exercise.stub)
    if translated != exercise.stub:   # the stub in the learner's language: an original too
        try:
            return strip_stamp(translated.read_text(encoding="utf-8")), f"the kit's {exercise.name}/{translated.name}"
        except OSError:
            pass
    in_place = learner.resolve() == exercise.stub.resolve()
    if not in_place:
        try:
            return exercise.stub.read_text(encoding="utf-8"), f"the kit's {exercise.name}/stub.py"
        except OSError as exc:
            return None, f"cannot read the kit's stub {exercise.stub}: {exc.strerror or exc}"
    _snapshot_if_pristine(exercise)
    snap = snapshot_path(exercise.name)
    try:
        return snap.read_text(encoding="utf-8"), f"the copy kept in {snap}"
    except OSError:
        return None, ("no original copy of this stub is known: the kit keeps one the first time a "
                      "`grade` command sees the stub untouched, and this one was already edited. "
                      "Restore it with `git checkout -- exercises/%s/stub.py` in a clone, or work "
                      "in a workspace made by `grade init DIR`" % exercise.name)
