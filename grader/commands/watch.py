"""`grade watch NAME`: re-grade whenever the learner's file is saved (stdlib polling)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.rule import Rule

from grader import progress
from grader.catalog import UsageError, learner_file, load_exercise
from grader.commands._common import (Stopper, add_selection_arguments, console, file_signature, grade_options,
                                     names, positive_float, positive_int)

NAME = "watch"
HELP = "re-grade an exercise every time its file is saved (Ctrl-C to stop)"


def add_arguments(parser) -> None:
    parser.add_argument("exercise", help="exercise name (see `grade list`)")
    parser.add_argument("--file", type=Path, help="watch this file instead of the exercise's stub")
    add_selection_arguments(parser, seed_help="hypothesis seed for every run (default: one random seed "
                                              "for the whole session)")
    parser.add_argument("--thorough", action="store_true", help="run many more hypothesis examples")
    parser.add_argument("--verbose", action="store_true",
                        help="every check and failure in full (default: the compact report)")
    parser.add_argument("--interval", type=positive_float, default=0.5,
                        help="seconds between two looks at the file (default 0.5)")
    # for tests and scripts: stop after this many gradings / seconds
    parser.add_argument("--max-runs", type=positive_int, help=argparse.SUPPRESS)
    parser.add_argument("--max-seconds", type=positive_float, help=argparse.SUPPRESS)


def _show_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def run(args) -> int:
    from grader.engine import grade, new_seed, validate_request
    from grader.sandbox import WARM

    WARM.enabled = True   # the child for the next save is ready before it comes
    from grader.report import render

    exercise = load_exercise(args.exercise)
    path = args.file if args.file else learner_file(exercise)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    only, skip = names(args.only), names(args.skip)
    validate_request(exercise, only, skip, grade_options(args))
    seed = new_seed() if args.seed is None else args.seed
    record = not args.file
    progress.snapshot_stubs([exercise])
    if record:
        progress.touch(exercise.name)
    out = console()
    shown = _show_path(path)
    started = time.monotonic()
    runs, last = 0, None
    announced_missing = False

    def expired() -> bool:
        return args.max_seconds is not None and time.monotonic() - started > args.max_seconds

    with Stopper() as stop:
        try:
            while not stop.stopped and not expired():
                signature = file_signature(path)
                if signature is None:
                    if not announced_missing:
                        out.print(f"{shown} is missing; waiting for it to reappear (Ctrl-C to stop)")
                        sys.stdout.flush()
                        announced_missing = True
                    stop.sleep(args.interval)
                    continue
                announced_missing = False
                if signature == last:
                    stop.sleep(args.interval)
                    continue
                if runs:  # let an editor finish writing: the file must be stable for a moment
                    stop.sleep(min(args.interval, 0.3))
                    if stop.stopped or file_signature(path) != signature:
                        continue
                runs += 1
                last = signature
                if out.is_terminal:
                    out.clear()
                else:
                    out.print(Rule(f"run {runs}"))
                total = len(exercise.hints)
                hints = min(progress.hints_shown(exercise.name), total)
                out.print(f"watch · {exercise.name} · {shown} · run {runs} · "
                          f"{time.strftime('%H:%M:%S')} · seed {seed} · "
                          f"hints shown {hints}/{total} · Ctrl-C to stop")
                out.print("grading...", style="dim")
                sys.stdout.flush()
                try:
                    report = grade(exercise, path, device=args.device, seed=seed,
                                   thorough=args.thorough, only=only, skip=skip, live=None,
                                   options=grade_options(args))
                except KeyboardInterrupt:
                    stop.stopped = True
                    break
                except UsageError:
                    raise
                except Exception as exc:  # keep watching: the next save may fix it
                    out.print(f"grading failed: {type(exc).__name__}: {exc}")
                    report = None
                if stop.stopped:  # Ctrl-C while pytest ran: its report is incomplete
                    break
                if report is not None:
                    render(report, out, compact=not args.verbose)
                    if record:
                        progress.record_grading(exercise, report, filtered=bool(only or skip),
                                                mode="watch")
                if args.max_runs is not None and runs >= args.max_runs:
                    break
                out.print(f"waiting for changes to {shown} (Ctrl-C to stop)")
                sys.stdout.flush()
                stop.sleep(args.interval)
        except KeyboardInterrupt:
            stop.stopped = True
    out.print(f"Stopped watching {shown} after {runs} run{'s' if runs != 1 else ''}.")
    return 0
