"""`grade dev check [NAME ...]`: verify exercises as a contributor would before a pull request."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text

from grader.catalog import exercise_names, load_exercise
from grader.commands._common import console

NAME = "dev"
HELP = "for contributors: `grade dev check [NAME ...]` verifies exercises (files, info.toml, " \
       "reference, stub, catalogue)"


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=["check"])
    parser.add_argument("exercises", nargs="*", help="exercise names (default: all)")
    parser.add_argument("--no-catalogue", action="store_true", help="skip grading the catalogue")
    parser.add_argument("--part", choices=["all", "fast", "slow"], default="all",
                        help="fast: the files, the stub and each wrong file on the checks it names "
                             "(speed checks aside); slow: the rest (the reference's and the right "
                             "files' full gradings, the speed checks); all: both (default)")


def run(args) -> int:
    from grader import devcheck
    from grader.engine import grade
    from grader.sandbox import WARM

    WARM.enabled = True   # the next file's child imports torch while this one is graded

    names = args.exercises or exercise_names()
    exercises = [load_exercise(name) for name in names]   # an unknown name is a usage error
    out = console()
    table = Table(title="grade dev check", title_justify="left")
    for column in ("exercise", "what", "result"):
        table.add_column(column)
    problems: list[str] = []
    checked: list[str] = []

    def row(name, what, problem):
        if problem is not None:
            problems.append(f"{name}: {what}: {problem}")
        table.add_row(name, what, Text("ok", style="green") if problem is None else Text(problem, style="red"))

    for exercise in exercises:
        started = time.perf_counter()
        fast, slow = args.part in ("all", "fast"), args.part in ("all", "slow")
        if fast:
            row(exercise.name, "files and info.toml", "; ".join(devcheck.info_problems(exercise)) or None)
        if slow:
            reference = grade(exercise, exercise.solution, device="cpu", seed=0).to_json()
            row(exercise.name, "reference passes", devcheck.verdict_problem(reference, devcheck.Expectation("pass")))
        if fast:
            stub = grade(exercise, exercise.stub, device="cpu", seed=0).to_json()
            said = any("not implemented yet" in c["message"] for c in stub["checks"]
                       if c["status"] in ("failed", "error"))
            row(exercise.name, "stub fails as not implemented",
                None if said and not stub["passed"] else "the untouched stub does not say 'not implemented yet'")
        if not args.no_catalogue:
            for path in devcheck.catalogue(exercise.name):
                expected = devcheck.expectation(path)
                if args.part != "all" and devcheck.is_fast(exercise, expected) != fast:
                    continue
                if expected.requires and not devcheck.installed(expected.requires):
                    table.add_row(exercise.name, path.name, Text(f"skipped: needs {expected.requires}", style="dim"))
                    continue
                doc = grade(exercise, path, device="cpu", **expected.grade_args()).to_json()
                row(exercise.name, f"{path.name} ({expected.verdict})", devcheck.verdict_problem(doc, expected))
        table.add_row(exercise.name, "time", f"{time.perf_counter() - started:.1f} s")
        checked.append(exercise.name)
    out.print(table)
    for problem in problems:   # one line each, whole, for logs and for tests/test_catalogue.py
        out.print(Text(f"PROBLEM {problem}", style="red"), soft_wrap=True)
    for name in checked:
        out.print(f"CHECKED {name}", soft_wrap=True)
    out.print(Text("all good" if not problems else f"{len(problems)} problem(s)",
                   style="bold green" if not problems else "bold red"))
    return 0 if not problems else 1
