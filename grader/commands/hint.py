"""`grade hint NAME`: reveal the next hint (they escalate from a nudge to near-code)."""

from __future__ import annotations

from rich.panel import Panel
from rich.text import Text

from grader import progress
from grader.catalog import load_exercise
from grader.commands._common import console
from grader.i18n import t

NAME = "hint"
HELP = "show the next hint for an exercise (--all: the hints revealed so far)"


def level(index: int, total: int) -> str:
    """index is 0-based."""
    if total <= 1:
        return t("hint_level_only")
    if index == 0:
        return t("hint_level_nudge")
    if index == total - 1:
        return t("hint_level_near_code")
    return t("hint_level_specific")


def add_arguments(parser) -> None:
    parser.add_argument("exercise", help="exercise name (see `grade list`)")
    parser.add_argument("--all", action="store_true",
                        help="show every hint revealed so far, and reveal nothing new")


def show(out, exercise, index: int) -> None:
    total = len(exercise.hints)
    out.print(Panel(Text(exercise.hints[index]),
                    title=t("hint_title", exercise=exercise.name, n=index + 1, total=total,
                            level=level(index, total)),
                    title_align="left", border_style="cyan"))


def run(args) -> int:
    exercise = load_exercise(args.exercise)
    progress.snapshot_stubs([exercise])
    out = console()
    total = len(exercise.hints)
    if total == 0:
        out.print(t("hint_none", exercise=exercise.name))
        return 0
    if args.all:
        shown = min(progress.hints_shown(exercise.name), total)
        if shown == 0:
            out.print(t("hint_none_revealed", exercise=exercise.name, total=total))
            return 0
        for index in range(shown):
            show(out, exercise, index)
        out.print(t("hint_revealed", shown=shown, total=total))
        return 0
    before = min(progress.hints_shown(exercise.name), total)
    if before >= total:
        out.print(t("hint_all_revealed", exercise=exercise.name, total=total))
        return 0
    shown, _ = progress.reveal_hint(exercise.name, total)
    index = max(shown, before + 1) - 1
    show(out, exercise, index)
    remaining = total - index - 1
    out.print(t("hint_more" if remaining != 1 else "hint_one_more", remaining=remaining)
              if remaining else t("hint_last"))
    return 0
