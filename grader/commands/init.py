"""`grade init DIR`: a practice workspace with a copy of every exercise folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from grader import progress
from grader.i18n import language, strip_stamp
from grader.catalog import WORKSPACE_MARKER, UsageError, find_workspace
from grader.commands._common import all_exercises, console

NAME = "init"
HELP = "copy every exercise into DIR as a practice workspace (`grade NAME` inside it grades DIR/NAME/stub.py)"

SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.bak")
README = """\
# contrastive-kit practice workspace

Made by `grade init`. Each folder holds one exercise: read `spec.md`, edit
`stub.py`, and run `grade NAME` from anywhere inside this folder: it grades this
workspace's copy. `grade list` shows your status, `grade hint NAME` the next hint,
`grade reset NAME` restores a stub (your version is kept as a backup).
"""


def add_arguments(parser) -> None:
    parser.add_argument("dir", type=Path, help="the workspace folder (created if missing)")


def run(args) -> int:
    target: Path = args.dir.expanduser()
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder")
    outer = find_workspace(target.resolve().parent)
    if outer is not None and outer != target.resolve():
        raise UsageError(f"{target} is inside the workspace {outer}; choose a folder outside it")
    exercises = all_exercises()
    if not exercises:
        raise UsageError("this installation of contrastive-kit has no exercises to copy")
    progress.snapshot_stubs(exercises)
    try:
        target.mkdir(parents=True, exist_ok=True)
        marker = target / WORKSPACE_MARKER
        if not marker.exists():
            marker.write_text("contrastive-kit practice workspace (made by `grade init`)\n")
        if not (target / "README.md").exists():
            (target / "README.md").write_text(README)
        copied, kept = [], []
        for exercise in exercises:
            dest = target / exercise.name
            if dest.exists():
                kept.append(exercise.name)  # never overwrite the learner's work
                continue
            tmp = target / f".{exercise.name}.copying-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(exercise.folder, tmp, ignore=SKIP)
            _stub_in_language(tmp)
            os.replace(tmp, dest)
            copied.append(exercise.name)
    except OSError as exc:
        raise UsageError(f"cannot create the workspace in {target}: "
                         f"{exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}") from None
    out = console()
    if copied:
        out.print(f"Copied {len(copied)} exercise{'s' if len(copied) != 1 else ''} into {target}: "
                  f"{', '.join(copied)}")
    if kept:
        out.print(f"Kept your existing folder{'s' if len(kept) != 1 else ''} (not overwritten): "
                  f"{', '.join(kept)}")
    out.print(f"Next: cd {target} && grade list; edit NAME/stub.py, then run `grade NAME` "
              f"anywhere inside the workspace.")
    return 0


def _stub_in_language(folder: Path) -> None:
    """The workspace's stub.py in the learner's language (stub.zh.py: the same code, its
    docstrings and TODO comments translated); the other language's stub is not copied."""
    lang = language()
    for twin in folder.glob("stub.*.py"):
        if twin.name == f"stub.{lang}.py":
            (folder / "stub.py").write_text(strip_stamp(twin.read_text(encoding="utf-8")), encoding="utf-8")
        twin.unlink()
