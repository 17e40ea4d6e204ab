"""`grade reset NAME`: restore the original stub, keeping the learner's version as a backup."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from grader import progress
from grader.catalog import UsageError, learner_file, load_exercise
from grader.commands._common import console

NAME = "reset"
HELP = "restore an exercise's stub; your version is kept as a timestamped backup"


def add_arguments(parser) -> None:
    parser.add_argument("exercise", help="exercise name (see `grade list`)")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def backup_path(path: Path) -> Path:
    base = path.with_name(f"{path.name}.{progress.stamp()}.bak")
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{path.name}.{progress.stamp()}-{n}.bak")
    return candidate


def confirm(question: str) -> bool | None:
    """True/False from the user; None when stdin is closed or not answered."""
    sys.stdout.write(question)
    sys.stdout.flush()
    try:
        line = sys.stdin.readline()
    except (OSError, ValueError):
        return None
    if not line:
        sys.stdout.write("\n")
        return None
    return line.strip().lower() in ("y", "yes")


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o777)
        except OSError:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def run(args) -> int:
    exercise = load_exercise(args.exercise)
    target = learner_file(exercise)
    pristine, source = progress.pristine_stub(exercise, target)
    if pristine is None:
        raise UsageError(f"cannot reset {exercise.name}: {source}")
    try:
        current = target.read_bytes() if target.exists() else None
    except OSError as exc:
        raise UsageError(f"cannot read {target}: {exc.strerror or exc}") from None
    out = console()
    if current is not None and current == pristine.encode("utf-8"):
        out.print(f"{target} is already the original stub; nothing to do.")
        return 0
    backup = backup_path(target) if current is not None else None
    if not args.yes:
        kept = f"; your version is kept as {backup.name}" if backup else ""
        answer = confirm(f"Restore {target} from {source}{kept}? [y/N] ")
        if answer is None:
            sys.stderr.write("grade: error: no answer (stdin closed); nothing was changed. "
                             "Use --yes to reset without the question\n")
            return 1
        if not answer:
            out.print("Nothing was changed.")
            return 1
    try:
        if backup is not None:
            with open(backup, "xb") as fh:  # never overwrite an existing file
                fh.write(current)
            if backup.read_bytes() != current:
                raise OSError(f"the backup {backup} does not match the file")
        write_atomically(target, pristine)
    except OSError as exc:
        raise UsageError(f"cannot reset {target}: {exc.strerror or exc}; your file was not "
                         f"changed{' (a backup may exist: ' + str(backup) + ')' if backup else ''}"
                         + ("; work in a workspace made by `grade init DIR`"
                            if isinstance(exc, PermissionError) else "")) from None
    with progress.update() as state:
        ex = progress.entry(state.data, exercise.name)
        ex["resets"] = int(ex.get("resets", 0)) + 1
    out.print(f"Restored {target} from {source}.")
    if backup is not None:
        out.print(f"Your version is kept as {backup}.")
    return 0
