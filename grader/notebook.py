"""Grading from a notebook or any Python session, and notebooks written for learners.

`grade_source(exercise, source)` writes the source to a file in a fresh temporary folder
and grades it exactly as `grade EXERCISE --file FILE --json` does, in a new `grade`
process (which starts its own sandboxed child for the code). The calling process, a
Jupyter kernel that has run the learner's cells, is never the grader: nothing the
learner's code did to it (a patched torch, a replaced module) reaches the verdict. What
comes back is the JSON report, read into a GradeReport that renders itself as HTML in
Jupyter and as plain text elsewhere.

Importing this module does not import torch, IPython or the engine.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.catalog import KIT_ROOT, UsageError, load_exercise
from grader.results import GradeReport

# The options of `grade EXERCISE` that a notebook may pass (keyword -> flag).
GRADE_OPTIONS = ("device", "seed", "thorough", "only", "skip", "budget", "data_dir")
# Variables that would make the new `grade` process run a start-up file, stay interactive,
# or not find the kit in its working folder.
STARTUP_VARIABLES = ("PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONSAFEPATH")


class GradingError(RuntimeError):
    """The `grade` process ended without a report (it crashed, was killed or timed out)."""


class NotebookReport(GradeReport):
    """A GradeReport read back from `grade --json`, which renders itself: HTML in Jupyter
    (`_repr_html_`), the terminal report as plain text in print() and IPython's terminal."""

    def text(self, width: int = 110) -> str:
        from rich.console import Console

        from grader.report import render

        console = Console(file=io.StringIO(), width=width, force_terminal=False, force_jupyter=False,
                          color_system=None, highlight=False, soft_wrap=False)
        render(self, console)
        return console.file.getvalue()

    def _repr_html_(self) -> str:
        from rich.console import Console

        from grader.report import render

        console = Console(file=io.StringIO(), record=True, width=110, force_terminal=True,
                          force_jupyter=False, color_system="truecolor", highlight=False, soft_wrap=False)
        render(self, console)
        return console.export_html(inline_styles=True, code_format=(
            '<pre style="font-family: Menlo, \'DejaVu Sans Mono\', Consolas, monospace; '
            'font-size: 12px; line-height: 1.3; white-space: pre; overflow-x: auto">'
            '<code>{code}</code></pre>'))

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.text())

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        counts = self.counts()
        return (f"<GradeReport {self.exercise} {'PASSED' if self.passed else 'NOT PASSED'}: "
                f"{counts['passed']}/{len(self.checks)} checks passed, seed {self.seed}>")


def report_from_json(doc: dict) -> NotebookReport:
    """The GradeReport that `grade --json` printed (the schema in the README)."""
    return NotebookReport.from_json(doc)


def _names_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return ",".join(str(v) for v in value)


def grade_arguments(exercise: str, path: Path, **options) -> list[str]:
    """The argv of `python -m grader EXERCISE --file PATH --json` with these options."""
    unknown = sorted(set(options) - set(GRADE_OPTIONS))
    if unknown:
        raise UsageError(f"grade_source: unknown option {', '.join(unknown)}; "
                         f"options: {', '.join(GRADE_OPTIONS)}")
    args = [sys.executable, "-m", "grader", exercise, "--file", str(Path(path).resolve()), "--json"]
    if options.get("device") is not None:
        args += ["--device", str(options["device"])]
    if options.get("seed") is not None:
        args += ["--seed", str(int(options["seed"]))]
    if options.get("thorough"):
        args.append("--thorough")
    for key in ("only", "skip"):
        text = _names_text(options.get(key))
        if text:
            args += [f"--{key}", text]
    if options.get("budget") is not None:
        args += ["--budget", str(options["budget"])]
    if options.get("data_dir") is not None:
        args += ["--data-dir", str(Path(options["data_dir"]).expanduser().resolve())]
    return args


def grade_environment(extra: dict | None = None) -> dict:
    """The environment of a new `grade` process: the caller's, less what changes how Python
    starts (it runs from the kit's folder, where `python -m grader` finds this kit)."""
    env = {k: v for k, v in os.environ.items() if k not in STARTUP_VARIABLES}
    env.update(extra or {})
    return env


def start_grading(args: list[str], stdout, stderr, env: dict | None = None) -> subprocess.Popen:
    """Start `python -m grader ...` in a session of its own (so that it can be stopped with
    everything it started), from the kit's root, so that the same kit grades."""
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                            cwd=str(KIT_ROOT), env=env or grade_environment(), start_new_session=True)


def _children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read().decode(errors="replace")
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if len(fields) > 1 and fields[1].isdigit():
                children.setdefault(int(fields[1]), []).append(int(name))
    return children


def stop_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the `grade` process, every process it started and their process groups.

    Its sandboxed children run in sessions of their own, so killing its group alone would
    leave them running; they are found through /proc before the parent dies (after that
    they would belong to init)."""
    if proc.poll() is not None:
        return
    children = _children_of()
    found, todo = [], [proc.pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    for pid in found:
        with contextlib.suppress(OSError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=10)


def exit_description(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit status {code}"


def read_grading(code: int, stdout: str, stderr: str) -> NotebookReport:
    """The report of a finished `grade --json` process; UsageError for exit code 2 (its
    one-line message), GradingError when it printed no report."""
    if code == 2:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        message = lines[-1] if lines else "usage error"
        raise UsageError(message.removeprefix("grade: error: "))
    if code in (0, 1):
        try:
            return report_from_json(json.loads(stdout))
        except (ValueError, KeyError, TypeError) as exc:
            raise GradingError(f"the grade process printed no report it could read ({exc})") from None
    last = (stderr.strip().splitlines() or [""])[-1]
    raise GradingError(f"the grade process ended without a report ({exit_description(code)})"
                       + (f": {last}" if last else ""))


def grade_file(exercise: str, path: Path, *, timeout: float | None = None, **options) -> NotebookReport:
    """Grade a file in a new `grade` process; the report it printed."""
    load_exercise(exercise)
    args = grade_arguments(exercise, path, **options)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = start_grading(args, out, err)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_tree(proc)
            raise GradingError(f"the grading took longer than {timeout:g} s and was stopped") from None
        finally:  # an interrupt in the kernel stops the grading and its sandbox too
            stop_tree(proc)
        out.seek(0)
        err.seek(0)
        return read_grading(code, out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def grade_source(exercise: str, source: str, *, filename: str = "cell.py", header: str = "",
                 timeout: float | None = None, **options) -> NotebookReport:
    """Grade SOURCE (a whole module: its imports and definitions) as `grade EXERCISE --file`.

    Options as on the command line: device, seed, thorough, only, skip (a list or a
    comma-separated string), budget, data_dir. The source is written to FILENAME in a new
    temporary folder (removed afterwards) and graded in a new `grade` process; this
    process runs none of it. Returns the report (a GradeReport; `.to_json()` is the JSON
    document, `.passed` the verdict). Raises UsageError for a bad exercise or option, and
    GradingError when the grading ended without a report."""
    if not isinstance(source, str):
        raise UsageError(f"grade_source: the source must be a str, not {type(source).__name__}")
    load_exercise(exercise)
    name = Path(filename).name
    if not name.endswith(".py") or name != filename:
        raise UsageError(f"grade_source: filename must be a plain name ending in .py, not {filename!r}")
    with tempfile.TemporaryDirectory(prefix="grade-") as folder:
        path = Path(folder) / name
        path.write_text(header + source + ("" if source.endswith("\n") else "\n"), encoding="utf-8")
        return grade_file(exercise, path, timeout=timeout, **options)


# -- notebooks: writing one, and reading the graded cells back ---------------------------------

def magic_line(cell_source: str) -> list[str] | None:
    """The words after `%%grade` on a cell's first line, or None for another cell."""
    import shlex

    first = cell_source.lstrip("\ufeff").split("\n", 1)[0].strip()
    if not first.startswith("%%grade") or (first[7:8] and not first[7:8].isspace()):
        return None
    try:
        return shlex.split(first[7:])
    except ValueError:
        return first[7:].split()


def cell_body(cell_source: str) -> str:
    """A `%%grade` cell as the file that is graded: the magic's line becomes a comment, so
    that a line number in a report is the line in the notebook's cell."""
    first, _, rest = cell_source.partition("\n")
    return f"# {first.strip()}\n{rest}"


def graded_cells(notebook: Path, exercise: str) -> list[str]:
    """The sources of the code cells of NOTEBOOK that start with `%%grade EXERCISE`, in order.
    ValueError when the file is not a notebook."""
    try:
        doc = json.loads(Path(notebook).read_text(encoding="utf-8"))
        cells = doc["cells"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a readable notebook ({type(exc).__name__}: {exc})") from None
    found = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        words = magic_line(source)
        if words and words[0] == exercise:
            found.append(source)
    return found


def spec_sections(markdown: str) -> list[str]:
    """The spec split at its second-level headings: one notebook cell per section."""
    sections, current = [], []
    fence = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        if line.startswith("## ") and not fence and current:
            sections.append("\n".join(current).strip())
            current = []
        current.append(line)
    if current:
        sections.append("\n".join(current).strip())
    return [s for s in sections if s]


def build_notebook(exercise_name: str):
    """The learner's notebook for an exercise (an nbformat v4 NotebookNode)."""
    import nbformat
    from nbformat import v4

    exercise = load_exercise(exercise_name)
    name = exercise.name
    intro = (f"# {exercise.title}\n\n"
             f"Implement `{'`, `'.join(exercise.functions) or name}` in the `%%grade {name}` cell below "
             f"and run it. The cell is graded exactly as `grade {name} --file` grades a file: its source "
             f"is written to a file and run by the grader's sandboxed process, never by the grader in "
             f"this kernel. Then the cell also runs here, so you can call your function in later cells.\n\n"
             f"The cell must hold everything the file would: its imports and definitions. Options go on "
             f"the magic's line, as on the command line: `%%grade {name} --skip speed`, "
             f"`--only correctness,gradients`, `--seed 7`, `--device cuda`.\n\n"
             f"More: `%grade_hint {name}` (the next hint), `%grade_progress` (your attempts), "
             f"`%grade_quiz --topic temperature` (concept questions). The spec follows.")
    spec = exercise.spec.read_text(encoding="utf-8") if exercise.spec.is_file() else ""
    stub = exercise.stub.read_text(encoding="utf-8")
    cells = [v4.new_markdown_cell(intro)]
    cells += [v4.new_markdown_cell(section) for section in spec_sections(spec)]
    cells.append(v4.new_markdown_cell("## Your solution\n\nLoad the grader once per kernel:"))
    cells.append(v4.new_code_cell("%load_ext grader"))
    cells.append(v4.new_markdown_cell("Edit this cell and run it to grade it (a full grading takes "
                                      "several seconds; `--skip speed` is quicker):"))
    cells.append(v4.new_code_cell(f"%%grade {name}\n{stub.rstrip()}\n"))
    cells.append(v4.new_markdown_cell("Stuck? Each run of the next cell reveals one more hint "
                                      "(recorded in your progress):"))
    cells.append(v4.new_code_cell(f"# %grade_hint {name}"))
    for number, cell in enumerate(cells):  # ids fixed, so that the same kit writes the same file
        cell.id = f"{cell.cell_type}-{number}"
    notebook = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(notebook)
    return notebook


def write_notebook(exercise_name: str, path: Path, force: bool = False) -> Path:
    """Write the learner's notebook to PATH; UsageError if it exists and force is not set."""
    import nbformat

    path = Path(path)
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; use --force to overwrite it")
    if not path.parent.is_dir():
        raise UsageError(f"no such folder: {path.parent}")
    write_atomically(path, nbformat.writes(build_notebook(exercise_name)) + "\n")
    return path


def write_atomically(path: Path, text: str) -> None:
    """Write a temporary file beside PATH, then rename it: a reader never sees half a file.
    The file gets the permissions a plain open() would give it (mkstemp's are 0600)."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
