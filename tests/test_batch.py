"""`grade batch`: a folder of catalogue files, notebooks, one that crashes its grader and one that
hangs it; the gradebook, the cache, the report, and the runner's parallelism and timeouts."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import time

import nbformat
import pytest

from conftest import SUBMISSIONS, run_grade

# Batch gradings of whole folders: the slow tier (python -m pytest -m slow).
pytestmark = pytest.mark.slow

CATALOGUE = SUBMISSIONS / "nt_xent"
RIGHT = ["correct_view_blocks.py", "correct_log_softmax_gather.py"]
WRONG = ["wrong_sum_instead_of_mean.py", "wrong_self_in_denominator.py"]
# A submission can signal the process that grades it (its parent); the batch must survive both.
CRASH = '''"""Kills the grading process at import."""
import os, signal
os.kill(os.getppid(), signal.SIGKILL)
'''
HANG = '''"""Stops the grading process at import: it never finishes."""
import os, signal
os.kill(os.getppid(), signal.SIGSTOP)
'''


def _rows(folder):
    with open(folder / "gradebook.csv", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


def _report(folder, name):
    return json.loads((folder / "gradebook" / f"{name}.json").read_text())


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                continue
    return found


def _notebook(path, *cells):
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)


def test_batch_grades_a_folder_and_survives_a_crash_and_a_hang(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in RIGHT + WRONG:
        shutil.copy(CATALOGUE / name, folder / name)
    (folder / "crash.py").write_text(CRASH)
    (folder / "hang.py").write_text(HANG)
    # The batch grades the last %%grade nt_xent cell, with its own options, not the cell's.
    _notebook(folder / "alice.ipynb", "%load_ext grader",
              "%%grade nt_xent --only interface\n" + (CATALOGUE / WRONG[0]).read_text(),
              "%%grade nt_xent --only interface\n" + (CATALOGUE / RIGHT[0]).read_text())
    _notebook(folder / "bob.ipynb", "print('no graded cell')")
    (folder / "notes.txt").write_text("not a submission")

    started = time.perf_counter()
    proc = run_grade("batch", "nt_xent", folder, "--skip", "speed", "--seed", "0", "--timeout", "60")
    first_wall = time.perf_counter() - started
    assert proc.returncode == 1, proc.stderr[-3000:]
    rows = _rows(folder)
    assert sorted(rows) == sorted(RIGHT + WRONG + ["crash.py", "hang.py", "alice.ipynb", "bob.ipynb"])
    expected = {**{n: "passed" for n in RIGHT + ["alice.ipynb"]}, **{n: "failed" for n in WRONG},
                "crash.py": "crash", "hang.py": "timeout", "bob.ipynb": "no cell"}
    assert {n: r["result"] for n, r in rows.items()} == expected, proc.stderr[-3000:]
    assert "the last of 2 %%grade nt_xent cells was graded" in rows["alice.ipynb"]["notes"]

    right = _report(folder, RIGHT[0])
    assert set(right) == {"version", "exercise", "file", "device", "seed", "passed", "not_run", "duration_s",
                          "checks"}   # the --json schema (tests/test_cli.py)
    assert right["file"] == RIGHT[0] and right["seed"] == 0 and right["passed"]
    assert "speed_vs_reference" not in {c["name"] for c in right["checks"]}
    assert int(rows[RIGHT[0]]["checks_passed"]) == int(rows[RIGHT[0]]["checks_total"]) == len(right["checks"])
    correctness = [c for c in right["checks"] if c["category"] == "correctness"]
    assert rows[RIGHT[0]]["correctness"] == rows[RIGHT[0]]["correctness_total"] == str(len(correctness))
    wrong = {c["name"]: c["status"] for c in _report(folder, WRONG[0])["checks"]}
    assert wrong["matches_reference"] == "failed"
    assert int(rows[WRONG[0]]["correctness"]) < int(rows[WRONG[0]]["correctness_total"])
    alice = {c["name"]: c["status"] for c in _report(folder, "alice.ipynb")["checks"]}
    assert alice["matches_reference"] == "passed"  # the right cell (the last), graded in full
    assert (folder / "gradebook" / "cells" / "alice.ipynb.py").read_text().startswith(
        "# %%grade nt_xent --only interface\n")

    crash = _report(folder, "crash.py")["checks"]
    assert [c["status"] for c in crash] == ["error"] and "SIGKILL" in crash[0]["message"]
    hang = _report(folder, "hang.py")["checks"]
    assert [c["status"] for c in hang] == ["timeout"] and "longer than 60 s" in hang[0]["message"]
    assert not _processes_mentioning(str(folder / "hang.py")), "the stopped grading was left behind"
    assert "no cell starts with %%grade nt_xent" in _report(folder, "bob.ipynb")["checks"][0]["message"]

    # A re-run keeps the reports of unchanged files; a changed file, a crash and a hang are graded again.
    (folder / WRONG[1]).write_text((folder / WRONG[1]).read_text() + "\n# edited\n")
    (folder / "hang.py").unlink()
    started = time.perf_counter()
    again = run_grade("batch", "nt_xent", folder, "--skip", "speed", "--seed", "0", "--timeout", "60")
    second_wall = time.perf_counter() - started
    assert again.returncode == 1, again.stderr[-3000:]
    rows = _rows(folder)
    assert {n: r["cached"] for n, r in rows.items()} == {
        **{n: "yes" for n in RIGHT + ["alice.ipynb", WRONG[0]]},
        WRONG[1]: "no", "crash.py": "no", "bob.ipynb": "no"}
    assert rows[WRONG[1]]["result"] == "failed" and "hang.py" not in rows
    assert second_wall < first_wall

    report = run_grade("batch", "--report", folder)
    assert report.returncode == 0, report.stderr
    reports = [_report(folder, name) for name in rows]
    for check in ("matches_reference", "module_imports", "grading"):
        passed = sum(c["name"] == check and c["status"] == "passed" for r in reports for c in r["checks"])
        total = sum(c["name"] == check for r in reports for c in r["checks"])
        line = next(line for line in report.stdout.splitlines() if f" {check} " in line)
        assert f" {passed}/{total} " in line
    assert "3/7 files passed" in report.stdout and "1 crash" in report.stdout


def test_speed_is_graded_one_file_at_a_time_after_the_rest(tmp_path, monkeypatch):
    """The untimed checks run two at a time at one torch thread; the speed check runs after them,
    alone; its result joins each file's report."""
    from grader import cli
    from grader.commands import batch

    folder = tmp_path / "pair"
    folder.mkdir()
    for name in (RIGHT[0], "wrong_python_loop_over_rows.py"):
        shutil.copy(CATALOGUE / name, folder / name)
    calls = []
    real = batch.run_gradings

    def spy(jobs, parallel, timeout, env, **kw):
        calls.append((parallel, [argv[argv.index("--only") + 1] if "--only" in argv else
                                 "skip " + argv[argv.index("--skip") + 1] for _, argv in jobs],
                      env.get("OMP_NUM_THREADS")))
        return real(jobs, parallel, timeout, env, **kw)

    monkeypatch.setattr(batch, "run_gradings", spy)
    monkeypatch.setattr(batch, "_cores", lambda: 2)
    code = cli.main(["batch", "nt_xent", str(folder), "--seed", "0", "--only", "correctness,speed"])
    assert code == 1
    assert calls[0] == (2, ["correctness,speed"] * 2, "1")
    assert calls[1][:2] == (1, ["speed_vs_reference"] * 2) and calls[1][2] == os.environ.get("OMP_NUM_THREADS")
    looped = {c["name"]: c["status"] for c in _report(folder, "wrong_python_loop_over_rows.py")["checks"]}
    assert looped["speed_vs_reference"] == "failed" and looped["matches_reference"] == "passed"
    right = {c["name"]: c for c in _report(folder, RIGHT[0])["checks"]}
    assert right["matches_reference"]["status"] == "passed" and "speed_vs_reference" in right
    assert {c["category"] for c in right.values()} == {"interface", "correctness", "speed", "integrity"}
    assert "speed_total" in _rows(folder)[RIGHT[0]]


def test_the_runner_overlaps_gradings_and_stops_what_overruns(tmp_path):
    from grader.commands.batch import run_gradings

    report = json.dumps({"checks": []})
    sleeper = [sys.executable, "-c", f"import time; time.sleep(1.5); print({report!r})"]
    walls = {}
    for parallel in (2, 1):
        started = time.perf_counter()
        done = run_gradings([(str(i), sleeper) for i in range(4)], parallel, 30, dict(os.environ))
        walls[parallel] = time.perf_counter() - started
        assert sorted(done) == ["0", "1", "2", "3"] and all(o.status == "report" for o in done.values())
    # one at a time cannot take less than 4 x 1.5 s; two at a time must take less than that
    assert walls[1] >= 6.0 and 3.0 <= walls[2] < 6.0, walls

    pid_file = tmp_path / "helper.pid"
    # A grading that starts a helper in a session of its own, as the sandbox does, then hangs.
    hangs = [sys.executable, "-c", "import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', "
             "'import time; time.sleep(120)'], start_new_session=True); "
             f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(120)"]
    crashes = [sys.executable, "-c", "import os; os._exit(3)"]
    refuses = [sys.executable, "-c", "import sys; sys.stderr.write('grade: error: bad option\\n'); sys.exit(2)"]
    garbles = [sys.executable, "-c", "print('PASSED')"]
    started = time.perf_counter()
    done = run_gradings([("hang", hangs), ("crash", crashes), ("usage", refuses), ("garble", garbles)],
                        4, 3.0, dict(os.environ))
    assert time.perf_counter() - started < 10
    assert done["hang"].status == "timeout" and "longer than 3 s" in done["hang"].message
    assert done["crash"].status == "crash" and "exit status 3" in done["crash"].message
    assert done["usage"].status == "usage" and done["usage"].message == "bad option"
    assert done["garble"].status == "crash" and "no report" in done["garble"].message
    helper = int(pid_file.read_text())
    deadline = time.time() + 5
    while time.time() < deadline and _alive(helper):
        time.sleep(0.1)
    assert not _alive(helper), "the hung grading's helper (another session) was left running"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("args, message", [
    (["batch", "nt_xent"], "usage: grade batch EXERCISE DIR"),
    (["batch", "nt_xnt", "."], "unknown exercise 'nt_xnt'"),
    (["batch", "nt_xent", "no-such-folder"], "no such folder"),
    (["batch", "nt_xent", "EMPTY"], "no .py or .ipynb files"),
    (["batch", "--report", "EMPTY"], "no gradebook in"),
    (["batch", "--report", "EMPTY", "nt_xent"], "--report takes only the folder"),
    (["batch", "nt_xent", "EMPTY", "--skip", "sped"], "--skip: no check or category 'sped'"),
    (["batch", "nt_xent", "EMPTY", "--jobs", "0"], "must be at least 1"),
])
def test_batch_usage_errors_are_one_line(tmp_path, args, message):
    (tmp_path / "EMPTY").mkdir()
    proc = run_grade(*[str(tmp_path / a) if a == "EMPTY" else a for a in args], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr and "Traceback" not in proc.stderr
