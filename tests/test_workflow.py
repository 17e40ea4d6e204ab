"""The learner's workflow commands through the real `grade` entry point:
list, spec, hint, reset, init, progress, quiz, the state file, and their docs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT


def run_grade(*args, input=None, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """`python -m grader ARGS` (the real entry point), with optional stdin text."""
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd or ROOT, input=input,
                          env=dict(os.environ))

from grader import progress
from grader.catalog import exercise_names, load_exercise


def one_line_error(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def make_workspace(tmp_path) -> Path:
    ws = tmp_path / "ws"
    proc = run_grade("init", ws)
    assert proc.returncode == 0, proc.stderr
    return ws


def state_file(state_dir) -> Path:
    return state_dir / "progress.json"


# ----------------------------------------------------------------------------- list


def test_list_shows_every_exercise_not_started(state_dir):
    proc = run_grade("list")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for name in exercise_names():
        assert name in proc.stdout
    assert "not started" in proc.stdout
    doc = json.loads(run_grade("list", "--json").stdout)
    rows = {r["name"]: r for r in doc["exercises"]}
    assert set(rows) == set(exercise_names())
    nt = rows["nt_xent"]
    info = load_exercise("nt_xent")
    assert nt["title"] == info.title and nt["difficulty"] == info.difficulty
    assert nt["topics"] == info.topics and nt["estimated_minutes"] == info.minutes
    assert nt["status"] == "not started" and nt["best_score"] is None


def test_list_shows_passed_and_best_score(state_dir):
    with progress.update() as state:
        ex = progress.entry(state.data, "nt_xent")
        ex.update(attempts=[{"at": progress.now_iso(), "passed": True}], attempts_total=2,
                  best_score=1.0, first_pass=progress.now_iso(), last_attempt=progress.now_iso())
    rows = {r["name"]: r for r in json.loads(run_grade("list", "--json").stdout)["exercises"]}
    assert rows["nt_xent"]["status"] == "passed" and rows["nt_xent"]["best_score"] == 1.0
    proc = run_grade("list")
    assert "passed" in proc.stdout and "100%" in proc.stdout


# ----------------------------------------------------------------------------- spec


def test_spec_renders_markdown_as_text(state_dir):
    proc = run_grade("spec", "nt_xent")
    assert proc.returncode == 0, proc.stderr
    assert "Contract" in proc.stdout and "def nt_xent" in proc.stdout
    assert "```" not in proc.stdout and "## " not in proc.stdout  # rendered, not raw
    raw = run_grade("spec", "nt_xent", "--raw")
    assert raw.stdout.startswith("# nt_xent")


def test_spec_unknown_exercise_is_one_line():
    proc = run_grade("spec", "nope")
    assert proc.returncode == 2
    assert "unknown exercise 'nope'" in one_line_error(proc)


def test_latex_math_becomes_readable_text():
    from grader.commands.spec import latex_to_text, readable_markdown

    assert latex_to_text(r"\frac{\exp(s_{ij}/\tau)}{\sum_{k \neq i} \exp(s_{ik}/\tau)}") == \
        "(exp(s_ij/τ))/(Σ_(k ≠ i) exp(s_ik/τ))"
    assert latex_to_text(r"I(X;Y) \geq \log(K+1) - \mathcal{L}") == "I(X;Y) ≥ log(K+1) - L"
    text = readable_markdown("cost $5 and $\\tau^2$ and `$x$`\n$$\n\\frac{a}{b}\n$$\n")
    assert "`τ^2`" in text and "`$x$`" in text and "$5" in text and "a/b" in text


# ----------------------------------------------------------------------------- hint


def test_hints_are_revealed_one_at_a_time_and_remembered(state_dir):
    hints = load_exercise("nt_xent").hints
    assert len(hints) >= 2
    first = run_grade("hint", "nt_xent")
    assert first.returncode == 0, first.stderr
    assert "hint 1 of" in first.stdout and "a nudge" in first.stdout
    assert hints[0].split()[0] in first.stdout
    second = run_grade("hint", "nt_xent")
    assert "hint 2 of" in second.stdout and "hint 1 of" not in second.stdout
    shown = run_grade("hint", "nt_xent", "--all")
    assert "hint 1 of" in shown.stdout and "hint 2 of" in shown.stdout
    assert "hint 3 of" not in shown.stdout
    assert progress.hints_shown("nt_xent") == 2
    for _ in range(len(hints)):
        last = run_grade("hint", "nt_xent")
    assert "already revealed" in last.stdout and last.returncode == 0
    assert progress.hints_shown("nt_xent") == len(hints)


def test_hint_all_before_any_hint(state_dir):
    proc = run_grade("hint", "nt_xent", "--all")
    assert proc.returncode == 0 and "No hints revealed yet" in proc.stdout


# ----------------------------------------------------------------------------- init


def test_init_copies_every_exercise_and_grades_the_workspace_file(tmp_path, state_dir):
    names = exercise_names()
    ws = make_workspace(tmp_path)
    assert (ws / ".contrastive-kit-workspace").is_file()
    for name in names:
        for part in (ROOT / "exercises" / name).iterdir():
            if part.name.startswith("stub.") and part.name != "stub.py":
                # the other language's stub is not copied: stub.py is the learner's language's
                assert not (ws / name / part.name).exists()
            elif part.suffix in (".md", ".py", ".toml"):
                assert (ws / name / part.name).read_bytes() == part.read_bytes()
    # inside the workspace, `grade NAME` grades the workspace's copy
    (ws / "nt_xent" / "stub.py").write_text((ROOT / "solutions" / "nt_xent.py").read_text())
    proc = run_grade("nt_xent", "--json", "--seed", "1", "--only", "interface", cwd=ws / "nt_xent")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["passed"], proc.stdout
    assert doc["file"] == "stub.py"
    # the grading was recorded (filtered: an attempt, not a pass)
    rows = {r["name"]: r for r in json.loads(run_grade("list", "--json").stdout)["exercises"]}
    assert rows["nt_xent"]["status"] == "attempted" and rows["nt_xent"]["attempts"] == 1
    # a second init keeps the learner's work
    again = run_grade("init", ws)
    assert again.returncode == 0 and "Kept" in again.stdout
    assert "def nt_xent" in (ws / "nt_xent" / "stub.py").read_text()
    assert (ws / "nt_xent" / "stub.py").read_text() == (ROOT / "solutions" / "nt_xent.py").read_text()


def test_init_onto_a_file_is_a_usage_error(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    proc = run_grade("init", target)
    assert proc.returncode == 2
    one_line_error(proc)
    assert target.read_text() == "keep me"


def test_reference_and_file_gradings_are_not_recorded(state_dir):
    for args in (["--reference"], ["--file", ROOT / "solutions" / "nt_xent.py"]):
        proc = run_grade("nt_xent", "--json", "--seed", "1", "--only", "interface", *args)
        assert proc.returncode == 0, proc.stderr
    assert progress.read()["exercises"].get("nt_xent", {}).get("attempts", []) == []


# ----------------------------------------------------------------------------- reset


def test_reset_in_a_workspace_keeps_a_backup(tmp_path, state_dir):
    ws = make_workspace(tmp_path)
    stub = ws / "nt_xent" / "stub.py"
    original = stub.read_text()
    mine = original + "\n# my work in progress\n"
    stub.write_text(mine)

    no = run_grade("reset", "nt_xent", cwd=ws, input="n\n")
    assert no.returncode == 1 and stub.read_text() == mine
    closed = run_grade("reset", "nt_xent", cwd=ws, input="")
    assert closed.returncode == 1 and stub.read_text() == mine
    assert "--yes" in one_line_error(closed)
    assert not list(stub.parent.glob("*.bak"))

    yes = run_grade("reset", "nt_xent", cwd=ws / "nt_xent", input="y\n")
    assert yes.returncode == 0, yes.stderr
    assert stub.read_text() == original
    backups = list(stub.parent.glob("stub.py.*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == mine

    again = run_grade("reset", "nt_xent", "--yes", cwd=ws)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert len(list(stub.parent.glob("*.bak"))) == 1


def _fake_kit(tmp_path, monkeypatch, stub_age_s: float):
    """A copy of the kit's exercises, edited in place by the learner (not a workspace)."""
    import grader.catalog as catalog

    kit = tmp_path / "kit_exercises"
    (kit / "nt_xent").mkdir(parents=True)
    for part in ("spec.md", "stub.py", "info.toml"):
        (kit / "nt_xent" / part).write_bytes((ROOT / "exercises" / "nt_xent" / part).read_bytes())
    now = time.time()
    for part in ("spec.md", "info.toml"):
        os.utime(kit / "nt_xent" / part, (now - 3600, now - 3600))
    os.utime(kit / "nt_xent" / "stub.py", (now - 3600 + stub_age_s, now - 3600 + stub_age_s))
    monkeypatch.setattr(catalog, "EXERCISES_DIR", kit)
    monkeypatch.chdir(tmp_path)
    return kit / "nt_xent" / "stub.py"


def test_reset_in_place_restores_the_snapshot_taken_when_first_seen(tmp_path, monkeypatch,
                                                                    state_dir, capsys):
    from grader.cli import main

    stub = _fake_kit(tmp_path, monkeypatch, stub_age_s=0)
    original = stub.read_text()
    assert main(["hint", "nt_xent"]) == 0  # first sight: the untouched stub is kept
    stub.write_text("# edited in place\n")
    assert main(["reset", "nt_xent", "--yes"]) == 0
    assert stub.read_text() == original
    backups = list(stub.parent.glob("stub.py.*.bak"))
    assert [b.read_text() for b in backups] == ["# edited in place\n"]
    capsys.readouterr()


def test_reset_in_place_refuses_without_a_known_original(tmp_path, monkeypatch, state_dir, capsys):
    from grader.cli import main

    stub = _fake_kit(tmp_path, monkeypatch, stub_age_s=1800)  # saved long after its spec
    stub.write_text("# edited before the kit ever saw it\n")
    assert main(["reset", "nt_xent", "--yes"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no original copy" in err
    assert stub.read_text() == "# edited before the kit ever saw it\n"
    assert not list(stub.parent.glob("*.bak"))


# ----------------------------------------------------------------------------- progress


def test_progress_totals_and_history(tmp_path, state_dir):
    ws = make_workspace(tmp_path)
    assert run_grade("hint", "nt_xent").returncode == 0
    graded = run_grade("nt_xent", "--seed", "0", "--only", "interface", cwd=ws)
    assert graded.returncode == 1  # the stub fails
    doc = json.loads(run_grade("progress", "--json").stdout)
    assert doc["totals"]["attempts"] == 1 and doc["totals"]["hints_used"] == 1
    assert doc["totals"]["exercises"] == len(exercise_names())
    row = next(r for r in doc["exercises"] if r["name"] == "nt_xent")
    assert row["status"] == "attempted" and row["hints_used"] == 1 and row["first_pass"] is None
    os.environ["COLUMNS"] = "300"   # one line for the totals (the state_dir fixture restores env)
    text = run_grade("progress")
    del os.environ["COLUMNS"]
    assert text.returncode == 0 and "nt_xent" in text.stdout and "attempted" in text.stdout
    # 'attempted' in the totals meant started and not passed: said so, and counts agree in number
    assert "Passed 0 of" in text.stdout and "1 more started and not passed yet" in text.stdout
    assert "1 grading ·" in text.stdout and "1 hint used" in text.stdout and "0 sessions" in text.stdout
    history = run_grade("progress", "nt_xent")
    assert history.returncode == 0 and "interface" in history.stdout and "filtered" in history.stdout
    bad = run_grade("progress", "nope")
    assert bad.returncode == 2
    one_line_error(bad)


def test_time_to_first_pass_and_attempts_are_computed(state_dir):
    class Report:  # the few things record_grading reads
        seed = 1

        def __init__(self, passed):
            from grader.results import CheckResult, Status
            self.checks = [CheckResult("a", "correctness",
                                       Status.PASSED if passed else Status.FAILED)]
            self.passed = passed

        def by_category(self):
            return [("correctness", self.checks)]

        def counts(self):
            return {"passed": int(self.passed), "failed": int(not self.passed), "error": 0,
                    "skipped": 0, "timeout": 0}

    exercise = load_exercise("nt_xent")
    progress.record_grading(exercise, Report(False))
    progress.record_grading(exercise, Report(True), filtered=True)  # filtered: not a pass
    assert progress.status(progress.read()["exercises"]["nt_xent"]) == "attempted"
    progress.record_grading(exercise, Report(True))
    ex = progress.read()["exercises"]["nt_xent"]
    assert progress.status(ex) == "passed" and ex["attempts_to_first_pass"] == 3
    assert ex["best_score"] == 1.0 and progress.time_to_first_pass(ex) is not None


# ----------------------------------------------------------------------------- state file


@pytest.mark.parametrize("content", ['{"version": 1, "exercises": [', "[1, 2]",
                                     '{"version": 1, "exercises": {"nt_xent": 3}}', "\x00\xff"])
def test_corrupt_state_is_set_aside_in_one_line(tmp_path, state_dir, content):
    ws = make_workspace(tmp_path)
    stub = ws / "nt_xent" / "stub.py"
    before = stub.read_bytes()
    state_dir.mkdir(parents=True, exist_ok=True)
    state_file(state_dir).write_bytes(content.encode("latin-1"))
    proc = run_grade("hint", "nt_xent", cwd=ws)
    assert proc.returncode == 0, proc.stderr
    assert "hint 1 of" in proc.stdout
    line = one_line_error(proc)
    assert "warning" in line and "corrupt" in line
    aside = list(state_dir.glob("progress.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content.encode("latin-1")
    assert json.loads(state_file(state_dir).read_text())["exercises"]["nt_xent"]["hints_shown"] == 1
    assert stub.read_bytes() == before
    for command in (["list"], ["progress"], ["hint", "nt_xent", "--all"]):
        again = run_grade(*command, cwd=ws)
        assert again.returncode == 0 and again.stderr == ""


def test_state_file_that_is_a_folder(state_dir):
    (state_dir / "progress.json").mkdir(parents=True)
    proc = run_grade("progress")
    assert proc.returncode == 0
    assert "set aside" in one_line_error(proc) or "renamed" in one_line_error(proc)


def test_writes_are_atomic_and_leave_no_temporary_files(state_dir):
    for _ in range(3):
        run_grade("hint", "nt_xent")
    leftovers = [p.name for p in state_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    assert json.loads(state_file(state_dir).read_text())["version"] == progress.VERSION


def test_state_dir_defaults_to_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(progress.STATE_ENV, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert progress.state_path() == tmp_path / "xdg" / "contrastive-kit" / "progress.json"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert progress.state_path() == Path.home() / ".local" / "state" / "contrastive-kit" / "progress.json"


# ----------------------------------------------------------------------------- quiz


def _banks():
    from grader.commands.quiz import load_banks

    return load_banks()


def test_question_banks_cover_the_topics_accurately():
    banks = _banks()
    questions = [q for _, qs in banks.values() for q in qs]
    assert len(questions) >= 20
    assert {"core", "negatives", "losses", "temperature", "batch_size", "collapse",
            "alignment_uniformity", "applications"} <= set(banks)
    ids = [q.id for q in questions]
    assert len(ids) == len(set(ids))
    for q in questions:
        assert 0 <= q.answer < len(q.choices) and len(set(q.choices)) == len(q.choices)
        assert len(q.explanation) > 40
    text = " ".join(q.question + " ".join(q.choices) + q.explanation for q in questions)
    assert "noise-contrastive estimation" in text
    assert "log(K+1)" in text and "2N - 2" in text
    for needle in ("MoCo", "BYOL", "SimCLR", "CLIP", "logQ", "Wang & Isola", "Wang & Liu"):
        assert needle in text, needle
    # every bank file parses on its own, each question has its answer among the choices
    for path in (ROOT / "grader" / "quiz").glob("*.toml"):
        tomllib.loads(path.read_text())


def test_quiz_with_scripted_correct_answers(state_dir):
    from grader.commands.quiz import pick

    pool = _banks()["temperature"][1]
    chosen = pick(pool, 3, 7, {})
    answers = ",".join("ABCDEF"[q.answer] for q in chosen)
    proc = run_grade("quiz", "--topic", "temperature", "-n", "3", "--seed", "7", "--answers", answers)
    assert proc.returncode == 0, proc.stderr
    assert "Score: 3/3" in proc.stdout and proc.stdout.count("Correct.") == 3
    sessions = progress.read()["quiz"]["sessions"]
    assert sessions[-1]["correct"] == 3 and sessions[-1]["asked"] == 3
    doc = json.loads(run_grade("progress", "--json").stdout)
    assert doc["quiz"]["by_topic"]["temperature"] == {"correct": 3, "asked": 3}


def test_quiz_wrong_answer_shows_the_right_one_with_an_explanation(state_dir):
    from grader.commands.quiz import pick

    q = pick(_banks()["losses"][1], 1, 3, {})[0]
    wrong = "ABCDEF"[(q.answer + 1) % len(q.choices)]
    proc = run_grade("quiz", "--topic", "losses", "-n", "1", "--seed", "3", input=f"{wrong}\n")
    assert proc.returncode == 0, proc.stderr
    assert f"The answer is {'ABCDEF'[q.answer]}" in proc.stdout
    assert q.explanation.split()[0] in proc.stdout and "Score: 0/1" in proc.stdout


def test_quiz_stdin_closed_is_not_a_traceback(state_dir):
    proc = run_grade("quiz", "-n", "3", "--seed", "1", input="B\n")
    assert proc.returncode == 1
    assert "no more answers" in one_line_error(proc)
    assert progress.read()["quiz"]["sessions"][-1]["asked"] == 1
    none = run_grade("quiz", "-n", "2", input="")
    assert none.returncode == 1 and "Traceback" not in none.stderr
    assert len(progress.read()["quiz"]["sessions"]) == 1  # nothing answered, nothing recorded


def test_quiz_bad_input(state_dir):
    for args in (["--topic", "nonsense"], ["-n", "0"], ["-n", "x"], ["--topic", "co"]):
        proc = run_grade("quiz", *args)
        assert proc.returncode == 2, args
        one_line_error(proc)
    listing = run_grade("quiz", "--topics")
    assert listing.returncode == 0 and "temperature" in listing.stdout


# ----------------------------------------------------------------------------- bad input, docs


@pytest.mark.parametrize("args", [["hint"], ["hint", "nope"], ["reset", "nope", "--yes"],
                                  ["watch", "nt_xent", "--interval", "-1"], ["init"],
                                  ["mock", "--minutes", "0"], ["mock", "--exercise", "nope"],
                                  ["watch", "nope"], ["list", "--bogus"]])
def test_bad_input_is_one_line_and_exit_2(args, state_dir):
    proc = run_grade(*args)
    assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
    one_line_error(proc)


WORKFLOW_COMMANDS = ["list", "spec", "hint", "reset", "init", "watch", "progress", "mock", "quiz"]


def test_every_workflow_command_is_documented_with_an_example():
    from grader.cli import subcommands

    assert set(WORKFLOW_COMMANDS) <= set(subcommands())
    docs = (ROOT / "README.md").read_text() + (ROOT / "docs" / "commands.md").read_text()
    blocks = "\n".join(re.findall(r"```[^\n]*\n(.*?)```", docs, re.DOTALL))
    for name in WORKFLOW_COMMANDS:
        assert re.search(rf"^grade {name}\b", blocks, re.MULTILINE), f"no example of `grade {name}`"
