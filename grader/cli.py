"""The `grade` command: `grade EXERCISE [options]`, or `grade SUBCOMMAND ...`.

Subcommands are the modules of grader/commands; each defines NAME, HELP,
add_arguments(parser) and run(args) -> exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import pkgutil
import sys
from pathlib import Path

from grader import commands
from grader.catalog import UsageError, exercise_names, learner_file, load_exercise
from grader.commands._common import add_selection_arguments, grade_options
from grader.i18n import LANGUAGES, choose, normalize, set_language, t


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
    add_selection_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document and nothing else")
    parser.add_argument("--thorough", action="store_true", help="run many more hypothesis examples")
    parser.add_argument("--compact", action="store_true",
                        help="the likely cause in full, every other failure on one line")
    parser.add_argument("--verbose", action="store_true",
                        help="every check and every failure in full (the default of grade; "
                             "watch and mock are compact unless given this)")


def grade_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="grade", description="Grade an exercise of contrastive-kit.")
    parser.add_argument("exercise", help="exercise name (see `grade list`)")
    add_grade_arguments(parser)
    return parser


def resolve_file(args, exercise) -> Path:
    if args.reference and args.file:
        raise UsageError(t("file_and_reference"))
    if args.reference:
        return exercise.solution
    path = args.file if args.file else learner_file(exercise)
    if path.is_dir():
        raise UsageError(t("file_is_folder", path=path))
    if not path.is_file():
        raise UsageError(t("no_such_file", path=path))
    return path


def replay_base(args) -> str:
    """The start of a failure's replay command: what picks the same file and device."""
    parts = ["grade", args.exercise]
    if args.reference:
        parts.append("--reference")
    elif args.file:
        parts += ["--file", _quoted(_relative_to_cwd(args.file))]
    if args.device != "auto":
        parts += ["--device", args.device]
    return " ".join(parts)


def _relative_to_cwd(path: Path) -> str:
    """The path from here when the file is under this folder (the engine strips the folder of
    one outside it from every message, this command included)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _quoted(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _names(text):
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def run_grade(args) -> int:
    exercise = load_exercise(args.exercise)
    path = resolve_file(args, exercise)
    only = _names(args.only)
    skip = _names(args.skip)
    options = grade_options(args)
    from grader.engine import accepted_options, grade, validate_request

    validate_request(exercise, only, skip, options)   # before anything slow starts
    from grader.report import make_console, render

    live = None if args.json else make_console(stderr=True)
    # an exercise that trains shows its own live display (one live display at a time)
    own_display = "budget" in accepted_options(exercise)
    with _progress_line(None if own_display else live,
                        t("report_grading", exercise=exercise.name, file=path)) as on_result:
        report = grade(exercise, path, device=args.device, seed=args.seed, thorough=args.thorough,
                       only=only, skip=skip, live=live, options=options, replay_base=replay_base(args),
                       on_result=on_result)
    if args.json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
    else:
        render(report, make_console(), compact=args.compact and not args.verbose)
    if not args.reference and not args.file:
        from grader import progress

        progress.record_grading(exercise, report, filtered=bool(only or skip), mode="grade")
    return 0 if report.passed else 1


@contextlib.contextmanager
def _progress_line(console, title: str):
    """On a terminal, one transient line that counts the checks as they finish."""
    if console is None or not console.is_terminal:
        yield None
        return
    seen = {"passed": 0, "bad": 0, "skipped": 0}

    with console.status(f"{title} ...") as status:
        def on_result(result):
            key = "passed" if result.status.value == "passed" else \
                "skipped" if result.status.value == "skipped" else "bad"
            seen[key] += 1
            status.update(f"{title} · " + t("report_progress", passed=seen["passed"], bad=seen["bad"],
                                                  skipped=seen["skipped"], check=result.name,
                                                  status=t(f"status_{result.status.value}")))
        yield on_result


def take_lang(argv: list[str]) -> str | None:
    """Remove `--lang X` / `--lang=X` from argv (it is accepted by every command); its value."""
    for i, arg in enumerate(argv):
        if arg == "--lang":
            if i + 1 >= len(argv):
                raise UsageError(t("unknown_language", lang="", known=", ".join(LANGUAGES)))
            value = argv[i + 1]
            del argv[i:i + 2]
            return value
        if arg.startswith("--lang="):
            del argv[i]
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        lang = take_lang(argv)
        if lang is not None and normalize(lang) is None:
            raise UsageError(t("unknown_language", lang=lang, known=", ".join(LANGUAGES)))
        set_language(choose(lang))
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
        sys.stderr.write(f"{t('error_prefix')}{exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(t("interrupted") + "\n")
        return 130


def entry() -> None:
    code = main()
    if "torch" in sys.modules:
        leave_without_teardown(code)
    raise SystemExit(code)


def leave_without_teardown(code: int) -> None:
    """Exit once the report is out, skipping the interpreter's teardown, where torch's thread
    pools and libraries take seconds to unload and nothing of the kit's is left to do: the
    exit handlers (the hypothesis folder's removal, the warm children's end) still run."""
    import atexit
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
