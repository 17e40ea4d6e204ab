"""`grade watch` and `grade mock`: long-running commands, bounded in time.

They run as real subprocesses in a practice workspace (so the kit's own stub is
never touched), with short gradings (--only interface), a fast clock for the mock
interview, and hidden stop conditions for watch.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT

from grader import progress
from grader.catalog import exercise_names

SOLUTION = ROOT / "solutions" / "nt_xent.py"


class Running:
    """A `grade` subprocess whose stdout is read line by line in the background."""

    def __init__(self, *args, cwd):
        self.proc = subprocess.Popen([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ))
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return
        self.kill()
        raise AssertionError(f"{text!r} did not appear; output so far:\n{''.join(self.seen)}")

    def finish(self, timeout: float = 60.0) -> tuple[int, str, str]:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        stderr = self.proc.stderr.read()
        while True:
            line = self.lines.get(timeout=5)
            if line is None:
                break
            self.seen.append(line)
        return code, "".join(self.seen), stderr

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def workspace(tmp_path) -> Path:
    ws = tmp_path / "ws"
    proc = subprocess.run([sys.executable, "-m", "grader", "init", str(ws)], capture_output=True,
                          text=True, cwd=ROOT, env=dict(os.environ), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return ws


def save(path: Path, text: str) -> None:
    path.write_text(text)
    future = time.time() + 1  # make sure the change is visible even on coarse clocks
    os.utime(path, (future, future))


# ----------------------------------------------------------------------------- watch


def test_watch_regrades_after_a_save(tmp_path, state_dir):
    ws = workspace(tmp_path)
    stub = ws / "nt_xent" / "stub.py"
    run = Running("watch", "nt_xent", "--only", "interface", "--seed", "1", "--interval", "0.1",
                  "--max-runs", "2", "--max-seconds", "60", cwd=ws)
    run.wait_for("waiting for changes")
    assert "NOT PASSED" in "".join(run.seen) and "hints shown 0/" in "".join(run.seen)
    save(stub, SOLUTION.read_text())
    code, out, err = run.finish()
    assert code == 0, err
    assert "Traceback" not in err
    assert "run 2" in out and out.rstrip().endswith("after 2 runs.")
    second = out.split("run 2", 1)[1]
    assert "PASSED" in second and "NOT PASSED" not in second
    attempts = progress.read()["exercises"]["nt_xent"]["attempts"]
    assert [a["mode"] for a in attempts] == ["watch", "watch"]
    assert [a["passed"] for a in attempts] == [False, True]


def test_watch_stops_cleanly_on_ctrl_c(tmp_path, state_dir):
    ws = workspace(tmp_path)
    run = Running("watch", "nt_xent", "--only", "interface", "--seed", "1", "--interval", "0.1",
                  "--max-seconds", "60", cwd=ws)
    run.wait_for("waiting for changes")
    run.proc.send_signal(signal.SIGINT)
    code, out, err = run.finish(timeout=20)
    assert code == 0 and "Traceback" not in err
    assert "Stopped watching" in out


# ----------------------------------------------------------------------------- mock


def test_mock_time_up_writes_both_reports(tmp_path, state_dir):
    ws = workspace(tmp_path)
    # every exercise but nt_xent already passed: the mock must pick nt_xent
    with progress.update() as state:
        for name in exercise_names():
            if name != "nt_xent":
                progress.entry(state.data, name)["first_pass"] = progress.now_iso()
                progress.entry(state.data, name)["attempts_total"] = 1
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", "mock", "--minutes", "1",
                           "--clock-speed", "30", "--interval", "0.1", "--seed", "4",
                           "--only", "interface"], capture_output=True, text=True, cwd=ws,
                          env=dict(os.environ), timeout=60)
    assert time.monotonic() - started < 30
    assert proc.returncode == 1, proc.stderr  # the untouched stub does not pass
    assert "Traceback" not in proc.stderr
    assert "left]" in proc.stdout and "time up" in proc.stdout
    reports = sorted((ws / "mock-reports").iterdir())
    assert [p.suffix for p in reports] == [".json", ".md"] and reports[0].stem == reports[1].stem
    doc = json.loads(reports[0].read_text())
    assert doc["exercise"] == "nt_xent" and doc["ended"] == "time up"
    assert doc["time_used_s"] == doc["budget_s"] == 60.0
    assert doc["attempts"] == [] and doc["hints_used"] == 0
    assert doc["final_grading"]["exercise"] == "nt_xent" and doc["final_grading"]["passed"] is False
    assert [q["kind"] for q in doc["follow_up_questions"]] == ["exercise", "exercise", "generic"]
    assert all(q["question"].endswith("?") for q in doc["follow_up_questions"])
    assert doc["final_from_attempt"] is None and "Final grading of your file" in proc.stdout
    # the spec was shown without its follow-ups; they are in the report, with their answers
    before = proc.stdout.split("interview over", 1)[0]
    assert "Contract" in before and "worked example" in before
    for hidden in ["Follow-up questions an interviewer may ask", "What a good answer contains",
                   "nt_xent_fast", *(q["question"][:40] for q in doc["follow_up_questions"])]:
        assert hidden not in before, hidden
    assert [p["heading"] for p in doc["spec_held_back"]][0] == \
        "Follow-up questions an interviewer may ask"
    assert set(doc["categories_first_passed"]) == {"interface", "integrity"}
    md = reports[1].read_text()
    for heading in ("# Mock interview: nt_xent", "When each category first passed", "## Attempts",
                    "## Final grading", "## Follow-up questions",
                    "### Follow-up questions an interviewer may ask", "What a good answer contains",
                    "solutions/nt_xent_fast.py"):
        assert heading in md
    for q in doc["follow_up_questions"]:
        assert q["question"] in md and q["notes"] in md
    assert "not implemented yet" in md  # the final grading shows the hidden messages
    mocks = progress.read()["mocks"]
    assert len(mocks) == 1 and mocks[0]["exercise"] == "nt_xent"


def test_mock_regrades_on_save_hides_messages_and_ends_when_all_pass(tmp_path, state_dir):
    ws = workspace(tmp_path)
    stub = ws / "nt_xent" / "stub.py"
    run = Running("mock", "--exercise", "nt_xent", "--minutes", "1", "--interval", "0.1",
                  "--seed", "2", "--only", "interface", cwd=ws)
    run.wait_for("Ctrl-C ends the interview")
    save(stub, stub.read_text() + "\n# thinking...\n")
    run.wait_for("attempt 1:")
    assert "interface 2/3" in run.seen[-1]   # the stub: imports, defines its name, not implemented
    subprocess.run([sys.executable, "-m", "grader", "hint", "nt_xent"], cwd=ws, capture_output=True,
                   env=dict(os.environ), timeout=30)
    shutil.copy(SOLUTION, stub)
    save(stub, stub.read_text())
    code, out, err = run.finish()
    assert code == 0, err
    during = out.split("interview over", 1)[0].split("Ctrl-C ends the interview", 1)[1]
    assert "not implemented yet" not in during and "rejects_mismatched_shapes" not in during
    assert "all checks passed" in out
    doc = json.loads(next((ws / "mock-reports").glob("*.json")).read_text())
    assert doc["ended"] == "all checks passed" and doc["passed"] is True
    assert [a["n"] for a in doc["attempts"]] == [1, 2]
    assert doc["categories_first_passed"]["interface"]["attempt"] == 2
    assert doc["categories_first_passed"]["integrity"]["attempt"] == 1
    assert doc["hints_used"] == 1
    # the file did not change after attempt 2: its grading is the final report, not redone
    assert doc["final_from_attempt"] == 2 and "Final grading of your file" not in out
    assert progress.read()["exercises"]["nt_xent"]["attempts_total"] == 2


@pytest.mark.slow   # a few long gradings: the slow tier
def test_mock_time_up_reuses_the_last_grading_of_an_unchanged_file(tmp_path, state_dir):
    ws = workspace(tmp_path)
    stub = ws / "nt_xent" / "stub.py"
    run = Running("mock", "--exercise", "nt_xent", "--minutes", "1", "--clock-speed", "4",
                  "--interval", "0.1", "--seed", "5", "--only", "interface", cwd=ws)
    run.wait_for("Ctrl-C ends the interview")
    save(stub, stub.read_text() + "\n# thinking...\n")
    run.wait_for("attempt 1:")
    code, out, err = run.finish()
    assert code == 1 and "Traceback" not in err
    assert "time up" in out and "has not changed since attempt 1" in out
    assert "Final grading of your file" not in out
    doc = json.loads(next((ws / "mock-reports").glob("*.json")).read_text())
    assert doc["ended"] == "time up" and doc["final_from_attempt"] == 1
    assert len(doc["attempts"]) == 1 and doc["attempts"][0]["passed_checks"] == \
        sum(c["status"] == "passed" for c in doc["final_grading"]["checks"])
    assert progress.read()["exercises"]["nt_xent"]["attempts_total"] == 1  # graded once


def test_mock_ctrl_c_ends_the_interview_and_still_reports(tmp_path, state_dir):
    ws = workspace(tmp_path)
    run = Running("mock", "--exercise", "nt_xent", "--minutes", "5", "--interval", "0.1",
                  "--seed", "3", "--only", "interface", cwd=ws)
    run.wait_for("Ctrl-C ends the interview")
    run.proc.send_signal(signal.SIGINT)
    code, out, err = run.finish()
    assert code == 1 and "Traceback" not in err
    assert "ended early (Ctrl-C)" in out
    assert len(list((ws / "mock-reports").glob("*.md"))) == 1
    assert len(list((ws / "mock-reports").glob("*.json"))) == 1
