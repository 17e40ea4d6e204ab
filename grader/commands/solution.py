"""`grade solution NAME`: the reference solution and its notes, once you have passed.

Before the exercise is passed it says how many checks your last full grading
left failing; `--force` shows the reference anyway, and that is recorded
(`grade progress` shows it).
"""

from __future__ import annotations

import ast

from rich.markdown import Markdown
from rich.rule import Rule
from rich.syntax import Syntax

from grader import progress
from grader.catalog import SOLUTIONS_DIR, UsageError, load_exercise
from grader.commands._common import console, when_text

NAME = "solution"
HELP = "the reference solution and its notes, once you have passed the exercise (--force: before)"


def add_arguments(parser) -> None:
    parser.add_argument("exercise", help="exercise name (see `grade list`)")
    parser.add_argument("--force", action="store_true",
                        help="show it before you have passed (recorded in your progress)")


def last_full_grading(ex: dict) -> dict | None:
    """The latest recorded grading that ran every check (not restricted by --only/--skip)."""
    for attempt in reversed(ex.get("attempts", [])):
        if not attempt.get("filtered") and isinstance(attempt.get("total_checks"), int):
            return attempt
    return None


def not_yet(name: str, ex: dict) -> str:
    """What stands between the learner and the solution, in one or two sentences."""
    last = last_full_grading(ex)
    if last is None:
        told = (f"You have not passed {name} yet, and no full grading of it is recorded: "
                f"run `grade {name}` to see how many checks remain.")
    else:
        total = int(last.get("total_checks", 0))
        left = max(0, total - int(last.get("passed_checks", 0)))
        told = (f"You have not passed {name} yet: {left} of {total} check"
                f"{'s' if total != 1 else ''} still to pass in your last full grading "
                f"({when_text(last.get('at'))}).")
    return told + (f" `grade solution {name} --force` shows the reference anyway; "
                   f"`grade progress` will say you saw it before passing.")


def companions(name: str) -> list:
    """Other files of the kit that extend this exercise's reference (solutions/NAME_*.py)."""
    return sorted(p for p in SOLUTIONS_DIR.glob(f"{name}_*.py") if p.is_file())


def run(args) -> int:
    exercise = load_exercise(args.exercise)
    path = exercise.solution
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the reference solution solutions/{exercise.name}.py: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
    ex = progress.read()["exercises"].get(exercise.name, {})
    passed = progress.status(ex) == "passed"
    out = console()
    if not passed and not args.force:
        out.print(not_yet(exercise.name, ex))
        return 1
    progress.touch(exercise.name)
    progress.record_solution_seen(exercise.name)
    try:
        notes = ast.get_docstring(ast.parse(source)) or ""
    except SyntaxError:
        notes = ""
    out.print(Rule(f"reference solution · {exercise.name} · solutions/{path.name}"))
    if not passed:
        out.print("Shown before you passed (--force); this is recorded in your progress.",
                  style="yellow")
    if notes:
        out.print(Markdown(notes, hyperlinks=False))
        out.print()
    if out.is_terminal:
        out.print(Syntax(source, "python", theme="ansi_dark", line_numbers=True, word_wrap=True))
    else:  # piped: the file as it is, ready to save or diff
        out.out(source.rstrip("\n"), highlight=False)
    more = companions(exercise.name)
    if more:
        out.print(Rule("more in the kit"))
        for extra in more:
            try:
                first = (ast.get_docstring(ast.parse(extra.read_text(encoding="utf-8"))) or "")
            except (OSError, UnicodeDecodeError, SyntaxError):
                first = ""
            summary = first.strip().splitlines()[0] if first.strip() else ""
            out.print(f"solutions/{extra.name}" + (f": {summary}" if summary else ""))
    out.print(f"The spec's follow-up questions: `grade spec {exercise.name}`; "
              f"the next exercise: `grade next`.")
    return 0
