"""`grade dev check`: an exercise's files, info.toml, reference, stub and catalogue verified."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_grade
from grader.catalog import Exercise, load_exercise
from grader.catalog import UsageError, parse_grading
from grader.devcheck import contract_problems, expectation, info_problems, verdict_problem


@pytest.mark.slow
def test_dev_check_passes_a_complete_exercise():
    proc = run_grade("dev", "check", "nt_xent", "--no-catalogue")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "reference passes" in proc.stdout and "all good" in proc.stdout


def test_dev_check_names_what_a_broken_exercise_lacks(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "info.toml").write_text('title = "x"\nhints = [""]\nfunctions = []\n')
    exercise = Exercise(name="broken", folder=folder)
    problems = "; ".join(info_problems(exercise))
    for expected in ("missing", "format = 3 expected",
                     "difficulty must be a string", "order must be an integer",
                     "hints must be non-empty strings", "functions must name at least one function",
                     "at least 10 expected"):
        assert expected in problems, (expected, problems)
    assert not info_problems(load_exercise("nt_xent"))


def test_the_grading_contract_is_read_from_info_toml_and_only_there(tmp_path):
    grading = load_exercise("contrastive_mnist").grading
    assert (grading.threads, grading.call_timeout_s, grading.options) == (None, 30.0, ("budget", "data_dir"))
    assert load_exercise("nt_xent").grading.threads == 1
    for table, words in (({"threads": 0}, "grading.threads"), ({"options": ["epochs"]}, "grading.options"),
                         ({"call_timeout_s": "10"}, "call_timeout_s"), ({"timeout": 3}, "unknown grading key")):
        with pytest.raises(UsageError, match=words):
            parse_grading(table, "info.toml")

    class Stray(Exercise):
        checks = property(lambda self: tmp_path / "checks.py")

    (tmp_path / "checks.py").write_text('REQUIRED = ["f"]\n\n@check("ranking")\ndef check_a(learner):\n    pass\n')
    problems = "; ".join(contract_problems(Stray(name="stray", folder=tmp_path), {}))
    assert "category 'ranking' is neither common" in problems and "defines REQUIRED" in problems
    assert contract_problems(Stray(name="stray", folder=tmp_path), {"grading": {"categories": ["ranking"]}}) == \
        ["grader/checks/stray.py defines REQUIRED: the contract lives in info.toml (functions, grading)"]


def test_expectations_are_read_from_the_docstring(tmp_path):
    wrong = tmp_path / "wrong.py"
    wrong.write_text('"""A bug.\n\nexpect: fail matches_reference, gradcheck_float64\nseed: 7\n"""\n')
    parsed = expectation(wrong)
    assert (parsed.verdict, parsed.checks, parsed.seed) == ("fail", ["matches_reference", "gradcheck_float64"], 7)
    doc = {"passed": False, "checks": [{"name": "matches_reference", "status": "failed"},
                                       {"name": "gradcheck_float64", "status": "passed"}]}
    assert "gradcheck_float64 did not catch this bug" in verdict_problem(doc, parsed)
    right = Path(tmp_path / "right.py")
    right.write_text('"""Right.\n\nexpect: pass\n"""\n')
    assert verdict_problem({"passed": True, "checks": [{"name": "a", "status": "passed"}]}, expectation(right)) is None


def test_dev_check_of_an_unknown_exercise_is_a_usage_error():
    proc = run_grade("dev", "check", "no_such_exercise")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_dev_check_of_several_exercises_keeps_every_problem(monkeypatch, capsys):
    """A problem of the first exercise checked still fails the run when a later one is fine."""
    import argparse

    from grader import devcheck, engine
    from grader.commands import dev
    from grader.results import CheckResult, GradeReport, Status

    def fake_grade(exercise, path, **kw):
        status = Status.PASSED if path == exercise.solution else Status.FAILED
        return GradeReport(exercise.name, str(path), "cpu", 0, [CheckResult("a", "correctness", status,
                                                                            "not implemented yet")])

    monkeypatch.setattr(engine, "grade", fake_grade)
    monkeypatch.setattr(devcheck, "info_problems", lambda e: ["broken"] if e.name == "clip_loss" else [])
    code = dev.run(argparse.Namespace(action="check", exercises=["clip_loss", "nt_xent"], no_catalogue=True,
                                     part="all"))
    out = capsys.readouterr().out
    assert code == 1 and "PROBLEM clip_loss: files and info.toml: broken" in out
