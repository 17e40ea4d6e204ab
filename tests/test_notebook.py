"""Notebooks: `grade notebook NAME`, grade_source(), and the %%grade magic in a real Jupyter kernel."""

from __future__ import annotations

import json
import subprocess
import sys

import nbclient
import nbformat
import pytest

from conftest import ROOT, SUBMISSIONS, grade_json, run_grade, statuses

WRONG = SUBMISSIONS / "nt_xent" / "wrong_sum_instead_of_mean.py"
RIGHT = SUBMISSIONS / "nt_xent" / "correct_view_blocks.py"


def test_import_grader_loads_neither_torch_nor_ipython():
    code = ("import sys, grader; from grader import grade_source; import grader.magic, "
            "grader.commands.batch, grader.commands.notebook; "
            "print(sorted(m for m in ('torch', 'IPython', 'nbformat', 'grader.engine') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_grade_notebook_writes_the_exercise_and_refuses_to_overwrite(tmp_path):
    proc = run_grade("notebook", "nt_xent", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "nt_xent.ipynb"
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    spec = (ROOT / "exercises" / "nt_xent" / "spec.md").read_text()
    for heading in [line for line in spec.splitlines() if line.startswith("## ")]:
        assert heading in markdown
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    assert "%load_ext grader" in code
    stub = (ROOT / "exercises" / "nt_xent" / "stub.py").read_text()
    assert f"%%grade nt_xent\n{stub.rstrip()}\n" in code
    assert code.index("%load_ext grader") < code.index(f"%%grade nt_xent\n{stub.rstrip()}\n")

    before = path.read_bytes()
    again = run_grade("notebook", "nt_xent", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "--force" in again.stderr and "Traceback" not in again.stderr
    assert path.read_bytes() == before

    path.write_text("my notes")
    forced = run_grade("notebook", "nt_xent", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and path.read_bytes() == before
    unknown = run_grade("notebook", "nt_xnt", cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "nt_xent" in unknown.stderr
    assert not (tmp_path / "nt_xnt.ipynb").exists()


def test_grade_source_is_the_grading_of_the_file():
    from grader import grade_source
    from grader.results import GradeReport

    report = grade_source("nt_xent", WRONG.read_text(), seed=0, only=["correctness", "stability"])
    doc = grade_json("nt_xent", "--file", WRONG, "--seed", 0, "--only", "correctness,stability")
    assert isinstance(report, GradeReport)
    # the same checks and messages; the replay command names the file each grading graded
    mine = report.to_json()["checks"]
    assert [dict(c, duration_s=0, replay=c["replay"].split(" --seed")[-1]) for c in mine] == \
        [dict(c, duration_s=0, replay=c["replay"].split(" --seed")[-1]) for c in doc["checks"]]
    assert statuses(report.to_json()) == statuses(doc)
    assert not report.passed and statuses(doc)["matches_reference"] == "failed"
    html = report._repr_html_()
    assert html.startswith("<pre") and "matches_reference" in html and "NOT PASSED" in html
    text = str(report)
    assert "matches_reference" in text and "NOT PASSED" in text and "\x1b[" not in text
    assert repr(report).startswith("<GradeReport nt_xent NOT PASSED")


def test_grade_source_usage_errors_are_one_line():
    from grader import grade_source
    from grader.catalog import UsageError

    with pytest.raises(UsageError, match="unknown exercise 'nt_xnt'"):
        grade_source("nt_xnt", "x = 1")
    with pytest.raises(UsageError, match="no check or category 'correctnes'"):
        grade_source("nt_xent", RIGHT.read_text(), only="correctnes")
    with pytest.raises(UsageError, match="unknown option"):
        grade_source("nt_xent", RIGHT.read_text(), reference=True)


def test_graded_cells_are_found_by_exercise(tmp_path):
    from grader.notebook import cell_body, graded_cells

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%%grade nt_xent --skip speed\nA = 1"),
        nbformat.v4.new_code_cell("%%grader nt_xent\nB = 1"),
        nbformat.v4.new_code_cell("%%grade nt_xent_v2\nC = 1"),
        nbformat.v4.new_markdown_cell("%%grade nt_xent\nD = 1"),
        nbformat.v4.new_code_cell("%%grade   nt_xent\nE = 1"),
    ])
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    cells = graded_cells(path, "nt_xent")
    assert [c.splitlines()[1] for c in cells] == ["A = 1", "E = 1"]
    assert cell_body(cells[0]) == "# %%grade nt_xent --skip speed\nA = 1"
    (tmp_path / "broken.ipynb").write_text("{")
    with pytest.raises(ValueError, match="not a readable notebook"):
        graded_cells(tmp_path / "broken.ipynb", "nt_xent")


def _outputs(cell) -> tuple[str, str, str]:
    """(text/plain and stream text, text/html, stderr) of an executed cell."""
    plain, html, err = [], [], []
    for out in cell.outputs:
        if out.output_type == "stream":
            (err if out.name == "stderr" else plain).append(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            plain.append(out.data.get("text/plain", ""))
            html.append(out.data.get("text/html", ""))
        elif out.output_type == "error":
            err.append("\n".join(out.traceback))
    return "".join(plain), "".join(html), "".join(err)


@pytest.mark.slow
def test_a_generated_notebook_grades_its_cells_in_a_real_kernel(tmp_path, state_dir):
    """The notebook of `grade notebook nt_xent`, with a wrong and a right %%grade cell added,
    executed headless by a real ipykernel: each cell's report is recorded in its outputs, the
    code ran in another process first and then in the kernel, and the kernel never imported
    the grader's engine or the reference."""
    assert run_grade("notebook", "nt_xent", cwd=tmp_path).returncode == 0
    notebook = nbformat.read(tmp_path / "nt_xent.ipynb", as_version=4)
    # In a folder of its own, made beforehand: with the state folder inside tmp_path, the sandbox
    # grants the child only the entries beside it on the way that exist when it starts.
    pids = tmp_path / "markers" / "pids.txt"
    pids.parent.mkdir()
    pids.touch()
    marker = f"import os as _os\nopen({str(pids)!r}, 'a').write(f'{{_os.getpid()}}\\n')\n"
    new = nbformat.v4.new_code_cell
    added = [
        new("%%grade nt_xent --skip speed --seed 0\n" + WRONG.read_text()),
        new("%%grade nt_xent --skip speed --seed 0\n" + marker + RIGHT.read_text()),
        new("import os, torch\nprint('kernel pid', os.getpid())\n"
            "z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]]); z2 = torch.tensor([[1.0, 1.0], [0.0, -1.0]])\n"
            "print('loss', repr(float(nt_xent(z1, z2, 0.5))))"),
        new("import sys\nprint('loaded', sorted(m for m in sys.modules if m.split('.')[0] == 'solutions'"
            " or m in ('grader.engine', 'grader.plugin', 'grader.sandbox', 'pytest')))"),
        new("%grade_hint nt_xent"),
        new("%grade_progress nt_xent"),
        new("%grade_quiz -n 1 --seed 3 --answers A"),
        new("%%grade nt_xnt\nnever_defined = 1"),
        new("print('never_defined' in globals())"),
    ]
    notebook.cells += added
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    by_source = {id(c): c for c in notebook.cells}
    stub_cell = next(c for c in notebook.cells if c.source.startswith("%%grade nt_xent\n"))
    (wrong, right, usage, loaded, hint, progress_cell, quiz, bad, after) = [by_source[id(c)] for c in added]

    plain, html, _ = _outputs(stub_cell)
    assert "not implemented yet" in plain and "NOT PASSED" in plain and "<pre" in html

    plain, html, _ = _outputs(wrong)
    assert "NOT PASSED" in plain and "matches_reference" in plain and "FAIL" in plain
    assert "NOT PASSED" in html

    plain, html, err = _outputs(right)
    assert "PASSED" in plain and "NOT PASSED" not in plain and "FAIL" not in plain, plain + err
    assert "speed_vs_reference" not in plain  # the magic's options reached the grader

    plain, _, _ = _outputs(usage)
    kernel_pid = int(plain.split("kernel pid ")[1].split()[0])
    import torch

    from solutions.nt_xent import nt_xent

    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z2 = torch.tensor([[1.0, 1.0], [0.0, -1.0]])
    assert f"loss {float(nt_xent(z1, z2, 0.5))!r}" in plain  # the right cell's function, in the kernel
    written = [int(line) for line in pids.read_text().split()]
    assert written[-1] == kernel_pid and written[:-1] and kernel_pid not in written[:-1]

    assert _outputs(loaded)[0].strip() == "loaded []"
    hints = _hint_texts()
    assert hints[0].split()[0] in _outputs(hint)[0] and "hint 1 of" in _outputs(hint)[0]
    assert "notebook" in _outputs(progress_cell)[0]
    assert "Score:" in _outputs(quiz)[0]
    assert "unknown exercise 'nt_xnt'" in _outputs(bad)[2] and _outputs(after)[0].strip() == "False"

    from grader.progress import FILE_NAME

    state = json.loads((state_dir / FILE_NAME).read_text())
    attempts = state["exercises"]["nt_xent"]["attempts"]
    assert [a["mode"] for a in attempts] == ["notebook"] * 3
    assert [a["passed"] for a in attempts] == [False, False, True]
    assert [a["filtered"] for a in attempts] == [False, True, True]
    assert state["exercises"]["nt_xent"]["hints_shown"] == 1


def _hint_texts():
    import tomllib

    return tomllib.loads((ROOT / "exercises" / "nt_xent" / "info.toml").read_text())["hints"]
