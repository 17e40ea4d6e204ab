"""Helpers shared by the learner-workflow subcommands (not a subcommand itself)."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import sys
import time
from pathlib import Path

from rich.console import Console

from grader.catalog import UsageError, exercise_names, load_exercise


def console(stderr: bool = False) -> Console:
    """A console bound to the stream as it is now (the engine redirects sys.stdout while grading)."""
    return Console(file=sys.stderr if stderr else sys.stdout, highlight=False, soft_wrap=False)


def all_exercises() -> list:
    """Every exercise that loads; a broken info.toml is a warning, not a crash."""
    found = []
    for name in exercise_names():
        try:
            found.append(load_exercise(name))
        except UsageError as exc:
            sys.stderr.write(f"grade: warning: {exc}\n")
    return found


def positive_float(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def clock_text(seconds: float) -> str:
    try:
        seconds = max(0, int(round(float(seconds))))
    except (TypeError, ValueError, OverflowError):
        return "--:--"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def duration_text(seconds: float | None) -> str:
    try:
        seconds = int(round(float(seconds)))
    except (TypeError, ValueError, OverflowError):
        return "—"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def when_text(iso: str | None, short: bool = False) -> str:
    """A recorded time for tables: 2025-01-31 14:25, or 31 Jan 14:25 when short."""
    from grader.progress import parse_time

    moment = parse_time(iso)
    if moment is None:
        return "—"
    return moment.strftime("%d %b %H:%M" if short else "%Y-%m-%d %H:%M")


def category_counts(report) -> list[tuple[str, int, int]]:
    return [(category, sum(c.status.value == "passed" for c in checks), len(checks))
            for category, checks in report.by_category()]


def counts_text(report) -> str:
    return " · ".join(f"{cat} {p}/{t}" for cat, p, t in category_counts(report))


def names(text):
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def add_selection_arguments(parser, seed_help: str = "hypothesis seed; a failure's report says which to replay",
                            hidden_selection: bool = False) -> None:
    """The options every grading command takes alike (grade, watch, mock): the device, the seed,
    which checks run, and the exercise options (catalog.EXERCISE_OPTIONS, taken by the
    exercises whose info.toml lists them in grading.options)."""
    import argparse

    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--seed", type=int, help=seed_help)
    selection_help = (argparse.SUPPRESS, argparse.SUPPRESS) if hidden_selection else (
        "comma-separated check names or categories to run", "comma-separated check names or categories not to run")
    parser.add_argument("--only", help=selection_help[0])
    parser.add_argument("--skip", help=selection_help[1])
    parser.add_argument("--data-dir", type=Path, help="folder with MNIST IDX files (contrastive_mnist)")
    parser.add_argument("--budget", type=positive_float, metavar="SECONDS",
                        help="training time budget (contrastive_mnist; default 60 on cpu, 30 on cuda)")


def grade_options(args) -> dict:
    """The exercise options given (--data-dir, --budget), as GradeContext.options; UsageError for
    a --data-dir that is not a folder."""
    options = {}
    if getattr(args, "data_dir", None):
        if not args.data_dir.expanduser().is_dir():
            from grader.i18n import t

            raise UsageError(t("no_such_folder", path=args.data_dir))
        options["data_dir"] = args.data_dir
    if getattr(args, "budget", None) is not None:
        options["budget"] = args.budget
    return options


def file_signature(path: Path):
    """What changes when the file is saved: (size, content hash), or None when missing."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return len(data), hashlib.sha256(data).hexdigest()


class Stopper:
    """Ctrl-C handling for long-running loops.

    The first SIGINT sets ``stopped`` and raises KeyboardInterrupt to wake a sleep.
    pytest swallows a KeyboardInterrupt raised while it runs the checks, so a loop
    must also look at ``stopped`` after each grading.
    """

    def __init__(self):
        self.stopped = False
        self._old = None

    def _handler(self, signum, frame):
        self.stopped = True
        raise KeyboardInterrupt

    def __enter__(self):
        with contextlib.suppress(ValueError):  # not the main thread: keep the default
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False

    def sleep(self, seconds: float) -> None:
        try:
            time.sleep(seconds)
        except KeyboardInterrupt:
            self.stopped = True


@contextlib.contextmanager
def sigint_ignored():
    """While writing results that must not be lost halfway, Ctrl-C is ignored."""
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
