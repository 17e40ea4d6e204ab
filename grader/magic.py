"""`%load_ext grader`: IPython magics for learners who work in Jupyter (or Colab, or IPython).

- `%%grade NAME [options]` grades the cell as `grade NAME --file` grades a file: the cell's
  source goes to a file that a new `grade` process grades, its child running the code in the
  sandbox (grader/notebook.py). This kernel runs nothing of the grading. Then the cell runs
  here too, so the learner keeps the function. Options as on the command line.
- `%grade_hint NAME [--all]`, `%grade_progress [NAME]`, `%grade_quiz [--topic T] [-n N]`:
  the `grade hint`, `grade progress` and `grade quiz` commands. They read and write only the
  learner's progress records and run no submission, so they run in this kernel.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from grader.catalog import UsageError

MAGICS = {"cell": ["grade"], "line": ["grade_hint", "grade_progress", "grade_quiz"]}


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting the kernel."""

    def error(self, message):
        raise UsageError(message)

    def exit(self, status=0, message=None):
        if message:
            sys.stderr.write(message)
        raise _Done


class _Done(Exception):
    """--help was shown."""


def _error(exc) -> None:
    sys.stderr.write(f"grade: error: {exc}\n")


def cell_parser() -> _Parser:
    from grader.commands._common import positive_float

    parser = _Parser(prog="%%grade", description="grade this cell as `grade NAME --file` grades a file",
                     add_help=True)
    parser.add_argument("exercise", help="exercise name (see `grade list`)")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--seed", type=int)
    parser.add_argument("--thorough", action="store_true")
    parser.add_argument("--only")
    parser.add_argument("--skip")
    parser.add_argument("--budget", type=positive_float, metavar="SECONDS")
    parser.add_argument("--data-dir")
    parser.add_argument("--timeout", type=positive_float, metavar="SECONDS",
                        help="stop the grading after this many seconds (default: no limit)")
    return parser


class _Grading:
    """What the cell shows while its grading runs; replaced by the report."""

    def __init__(self, exercise: str):
        self.exercise = exercise

    def __repr__(self) -> str:
        return f"grading {self.exercise} in a separate, sandboxed process ..."

    def _repr_html_(self) -> str:
        return f"<pre>{self!r}</pre>"


def grade_cell(line: str, cell: str) -> None:
    """%%grade NAME [--device D] [--seed N] [--thorough] [--only A,B] [--skip A,B] [--budget S]
    [--data-dir DIR] [--timeout S]: grade this cell as a file, then run it in the kernel."""
    from IPython import get_ipython
    from IPython.display import display

    from grader import progress
    from grader.catalog import load_exercise
    from grader.notebook import GradingError, grade_source

    try:
        args = cell_parser().parse_args(shlex.split(line))
        exercise = load_exercise(args.exercise)
    except (UsageError, ValueError) as exc:
        _error(f"{exc} (the cell was neither graded nor run)")
        return
    except _Done:
        return
    options = {key: getattr(args, key) for key in ("device", "seed", "thorough", "only", "skip",
                                                   "budget", "data_dir")}
    handle = display(_Grading(exercise.name), display_id=True)
    try:
        report = grade_source(exercise.name, cell, header=f"# %%grade {line.strip()}\n",
                              timeout=args.timeout, **options)
    except UsageError as exc:
        _clear(handle)
        _error(f"{exc} (the cell was not graded)")
    except GradingError as exc:
        _clear(handle)
        _error(f"{exc} (the cell was not graded)")
    else:
        if handle is None:
            display(report)
        else:
            handle.update(report)
        progress.record_grading(exercise, report, filtered=bool(args.only or args.skip), mode="notebook")
    shell = get_ipython()
    if shell is not None:
        shell.run_cell(cell)


def _clear(handle) -> None:
    if handle is not None:
        from IPython.display import HTML

        handle.update(HTML(""))


def _run_command(module_name: str, line: str, stdin=None) -> None:
    import importlib

    module = importlib.import_module(f"grader.commands.{module_name}")
    parser = _Parser(prog=f"%grade_{module.NAME}", description=module.HELP)
    module.add_arguments(parser)
    old_stdin = sys.stdin
    try:
        args = parser.parse_args(shlex.split(line))
        if stdin is not None:
            sys.stdin = stdin
        module.run(args)
    except (UsageError, ValueError) as exc:
        _error(exc)
    except _Done:
        pass
    finally:
        sys.stdin = old_stdin


def grade_hint(line: str) -> None:
    """%grade_hint NAME [--all]: the next hint for an exercise (as `grade hint`)."""
    _run_command("hint", line)


def grade_progress(line: str) -> None:
    """%grade_progress [NAME]: attempts, first passes, hints used, quiz results (as `grade progress`)."""
    _run_command("progress", line)


class _InputStdin:
    """The quiz reads its answers line by line from stdin; a notebook answers through input()."""

    def readline(self) -> str:
        try:
            return input() + "\n"
        except (EOFError, NotImplementedError):  # no front end to ask (IPython's StdinNotImplementedError)
            return ""

    def isatty(self) -> bool:
        return False


def grade_quiz(line: str) -> None:
    """%grade_quiz [--topic T] [-n N] [--seed N] [--topics] [--answers B,C]: concept questions
    (as `grade quiz`), answered in the notebook's input box."""
    _run_command("quiz", line, stdin=_InputStdin())


def load_ipython_extension(ipython) -> None:
    ipython.register_magic_function(grade_cell, magic_kind="cell", magic_name="grade")
    ipython.register_magic_function(grade_hint, magic_kind="line", magic_name="grade_hint")
    ipython.register_magic_function(grade_progress, magic_kind="line", magic_name="grade_progress")
    ipython.register_magic_function(grade_quiz, magic_kind="line", magic_name="grade_quiz")


def unload_ipython_extension(ipython) -> None:
    for kind, names in MAGICS.items():
        for name in names:
            ipython.magics_manager.magics[kind].pop(name, None)
