"""`grade next`: the next exercise in the recommended order, easy to hard.

The order is each exercise's `order` in its info.toml (exercises without one come
last, alphabetically); the next one is the first you have not passed. It prints
the file to edit, the spec's path and the spec's opening summary.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.markdown import Markdown
from rich.rule import Rule

from grader import progress
from grader.i18n import localized, strip_stamp
from grader.catalog import learner_file, recommended_order
from grader.commands._common import all_exercises, console
from grader.commands.spec import headings, readable_markdown

NAME = "next"
HELP = "the next exercise in the recommended order (the first not yet passed): its file and summary"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")


def spec_summary(text: str) -> str:
    """The spec's opening: what comes after its title and before its first section."""
    lines = strip_stamp(text).splitlines()
    marks = sorted(headings(lines))
    if not marks:
        return text.strip().split("\n\n", 1)[0].strip() + "\n"
    start = marks[0] + 1
    if start < len(lines) and set(lines[start].strip()) <= set("=-") and lines[start].strip():
        start += 1  # a setext title's underline
    end = marks[1] if len(marks) > 1 else len(lines)
    if marks[0] > 0 and any(line.strip() for line in lines[:marks[0]]):
        start, end = 0, marks[0]  # text before the first heading is the opening
    return "\n".join(lines[start:end]).strip() + "\n"


def shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def run(args) -> int:
    exercises = recommended_order(all_exercises())
    progress.snapshot_stubs(exercises)
    data = progress.read()
    open_ones = [e for e in exercises
                 if progress.status(data["exercises"].get(e.name)) != "passed"]
    if not open_ones:
        if args.json:
            sys.stdout.write(json.dumps({"next": None, "total": len(exercises)}) + "\n")
        else:
            console().print(f"You have passed all {len(exercises)} exercises. `grade mock` for a "
                            f"timed interview, `grade quiz` for concept questions, "
                            f"`grade solution NAME` to compare with the references.")
        return 0
    exercise = open_ones[0]
    try:
        summary = spec_summary(localized(exercise.spec).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        summary = (f"*(the spec cannot be read: {getattr(exc, 'strerror', None) or exc})*\n")
    progress.touch(exercise.name)
    position = exercises.index(exercise) + 1
    stub = learner_file(exercise)
    spec_file = localized(stub.parent / "spec.md")  # a workspace's copy, next to the file to edit
    file, spec = shown_path(stub), shown_path(spec_file if spec_file.is_file() else localized(exercise.spec))
    status = progress.status(data["exercises"].get(exercise.name))
    if args.json:
        sys.stdout.write(json.dumps({
            "next": exercise.name, "title": exercise.title, "order": exercise.order,
            "position": position, "total": len(exercises), "status": status,
            "difficulty": exercise.difficulty, "estimated_minutes": exercise.minutes,
            "file": file, "spec": spec, "summary": summary}) + "\n")
        return 0
    out = console()
    out.print(Rule(f"next: {exercise.name} · {position} of {len(exercises)} in the "
                   f"recommended order"))
    facts = [exercise.title]
    if exercise.difficulty:
        facts.append(exercise.difficulty)
    if exercise.minutes:
        facts.append(f"about {exercise.minutes} min")
    facts.append(status)
    out.print(" · ".join(facts), style="bold")
    out.print(f"edit: {file}")
    out.print(f"spec: {spec}")
    out.print()
    out.print(Markdown(readable_markdown(summary), code_theme="ansi_dark", hyperlinks=False))
    out.print()
    out.print(f"`grade spec {exercise.name}` for the whole spec, `grade {exercise.name}` to grade "
              f"your file, `grade hint {exercise.name}` when stuck.")
    return 0
