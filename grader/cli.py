"""The `grade` command: `grade EXERCISE [options]`, or `grade SUBCOMMAND ...`.

Subcommands are the modules of grader/commands; each defines NAME, HELP,
add_arguments(parser) and run(args) -> exit code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

from grader import commands
from grader.catalog import UsageError, exercise_names, learner_file, load_exercise
from grader.commands._common import positive_float


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def subcommands() -> dict:
    found = {}
    for info in pkgutil.iter_modules(commands.__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"grader.commands.{info.name}")
            found[module.NAME] = module
    return found


def add_grade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", type=Path, help="grade this file instead of the exercise's stub")
    parser.add_argument("--reference", action="store_true", help="grade the reference solution")
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--seed", type=int, help="hypothesis seed; a failure's report says which to replay")
    parser.add_argument("--json", action="store_true", help="print one JSON document and nothing else")
    parser.add_argument("--thorough", action="store_true", help="run many more hypothesis examples")
    parser.add_argument("--only", help="comma-separated check names or categories to run")
    parser.add_argument("--skip", help="comma-separated check names or categories not to run")
    parser.add_argument("--data-dir", type=Path, help="folder with MNIST IDX files (contrastive_mnist)")
    parser.add_argument("--budget", type=positive_float, metavar="SECONDS",
                        help="training time budget (contrastive_mnist; default 60 on cpu, 30 on cuda)")


def grade_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="grade", description="Grade an exercise of contrastive-kit.")
    parser.add_argument("exercise", help="exercise name (see `grade list`)")
    add_grade_arguments(parser)
    return parser


def resolve_file(args, exercise) -> Path:
    if args.reference and args.file:
        raise UsageError("use either --file or --reference, not both")
    if args.reference:
        return exercise.solution
    path = args.file if args.file else learner_file(exercise)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    return path


def _names(text):
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def run_grade(args) -> int:
    from grader.engine import grade
    from grader.report import make_console, render

    exercise = load_exercise(args.exercise)
    path = resolve_file(args, exercise)
    only = _names(args.only)
    skip = _names(args.skip)
    live = None if args.json else make_console(stderr=True)
    if args.data_dir and not args.data_dir.expanduser().is_dir():
        raise UsageError(f"--data-dir: no such folder: {args.data_dir}")
    options = {"data_dir": args.data_dir} if args.data_dir else {}
    if args.budget is not None:
        options["budget"] = args.budget
    report = grade(exercise, path, device=args.device, seed=args.seed, thorough=args.thorough,
                   only=only, skip=skip, live=live, options=options)
    if args.json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
    else:
        render(report, make_console())
    if not args.reference and not args.file:
        from grader import progress

        progress.record_grading(exercise, report, filtered=bool(only or skip), mode="grade")
    return 0 if report.passed else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        subs = subcommands()
        if not argv or argv[0] in ("-h", "--help"):
            names = ", ".join(exercise_names())
            print(f"usage: grade EXERCISE [--file PATH] [--reference] [--device cpu|cuda|auto] "
                  f"[--seed N] [--json] [--thorough]\n       grade {{{','.join(sorted(subs))}}} ...\n"
                  f"exercises: {names}")
            return 0 if argv else 2
        if argv[0] in subs:
            module = subs[argv[0]]
            parser = OneLineParser(prog=f"grade {module.NAME}", description=module.HELP)
            module.add_arguments(parser)
            return module.run(parser.parse_args(argv[1:]))
        return run_grade(grade_parser().parse_args(argv))
    except UsageError as exc:
        sys.stderr.write(f"grade: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("grade: interrupted\n")
        return 130


def entry() -> None:
    raise SystemExit(main())
