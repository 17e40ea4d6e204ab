"""What a candidate sees of a failure: the input, expected and got, one cause said once, fast.

Each test grades a real submission through the `grade` command and reads its report.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from conftest import ROOT, SUBMISSIONS, grade_json, run_grade, statuses

WRONG_TEMPERATURE = SUBMISSIONS / "nt_xent" / "wrong_temperature_multiplied.py"


def _check(doc, name):
    return next(c for c in doc["checks"] if c["name"] == name)


def test_failed_value_check_shows_the_input_expected_got_and_a_replay_command():
    doc = grade_json("nt_xent", "--file", WRONG_TEMPERATURE, "--seed", "5", "--only", "matches_reference")
    check = _check(doc, "matches_reference")
    assert check["status"] == "failed"
    assert "expected" in check["message"] and "got" in check["message"]
    # the shrunk example is small: its tensors are shown with their values
    assert check["input"].startswith("nt_xent(z1=tensor([") and "temperature=" in check["input"]
    assert check["replay"] == ("grade nt_xent --file tests/submissions/nt_xent/wrong_temperature_multiplied.py "
                               "--seed 5 --only matches_reference")


def test_the_replay_command_reproduces_the_same_failure():
    first = _check(grade_json("nt_xent", "--file", WRONG_TEMPERATURE, "--seed", "11", "--only",
                              "matches_reference"), "matches_reference")
    args = shlex.split(first["replay"])[1:]
    again = _check(grade_json(*args), "matches_reference")
    assert (again["message"], again["input"]) == (first["message"], first["input"])


def test_plain_report_shows_input_and_replay_of_the_first_failure():
    proc = run_grade("nt_xent", "--file", WRONG_TEMPERATURE, "--seed", "5", "--only", "correctness")
    assert proc.returncode == 1
    assert "input:" in proc.stdout and "replay: grade nt_xent --file" in proc.stdout
    assert "likely cause" in proc.stdout


def test_tensor_differences_name_the_worst_entry():
    doc = grade_json("nt_xent", "--file", SUBMISSIONS / "nt_xent" / "wrong_detached_norms.py", "--seed", "0",
                     "--only", "gradients_match_reference")
    message = _check(doc, "gradients_match_reference")["message"]
    assert "largest difference at [" in message and "expected" in message, message


def test_untouched_stub_gives_one_short_report():
    proc = run_grade("nt_xent", "--json", "--seed", "0")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [c["name"] for c in doc["checks"]] == ["module_imports", "defines_required_names",
                                                  "functions_implemented", "does_not_use_reference"]
    assert "not implemented yet: nt_xent (stub.py line" in _check(doc, "functions_implemented")["message"]
    assert doc["not_run"] > 10
    plain = run_grade("nt_xent", "--seed", "0")
    assert plain.stdout.count("not implemented yet") == 1
    assert len(plain.stdout.splitlines()) <= 15, plain.stdout


def test_syntax_error_gives_one_short_report(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("def nt_xent(z1, z2, temperature=0.5)\n    return z1\n")
    doc = grade_json("nt_xent", "--file", bad, "--seed", "0")
    assert statuses(doc) == {"module_imports": "failed", "defines_required_names": "skipped",
                             "does_not_use_reference": "passed"}
    assert "SyntaxError in broken.py line 1" in _check(doc, "module_imports")["message"]
    assert doc["not_run"] > 10


def test_missing_name_suggests_the_close_one(tmp_path):
    near = tmp_path / "near.py"
    near.write_text("def ntxent(z1, z2, temperature=0.5):\n    return (z1 - z2).sum()\n")
    doc = grade_json("nt_xent", "--file", near, "--seed", "0")
    message = _check(doc, "defines_required_names")["message"]
    assert "did you mean `ntxent`" in message, message
    assert len(doc["checks"]) == 3 and doc["not_run"] > 10


def test_a_function_left_as_stub_skips_the_checks_that_need_it(tmp_path):
    # sample_negatives and sample_unigram from a correct submission; hard_negatives the stub's
    source = (SUBMISSIONS / "negative_sampler" / "correct_multinomial_masked.py").read_text()
    partial = tmp_path / "partial.py"
    partial.write_text(source + "\n\ndef hard_negatives(similarity, labels, num_negatives):\n"
                       "    raise NotImplementedError\n")
    doc = grade_json("negative_sampler", "--file", partial, "--seed", "0", "--skip", "speed,distribution")
    implemented = _check(doc, "functions_implemented")
    assert implemented["status"] == "failed" and "hard_negatives" in implemented["message"]
    hard = [c for c in doc["checks"] if c["name"].startswith("hard_negatives_")]
    assert hard and all(c["status"] == "skipped" and "needs hard_negatives" in c["message"] for c in hard)
    assert _check(doc, "sample_negatives_worked_example")["status"] == "passed"


def test_checks_that_need_right_values_are_skipped_once_they_are_wrong():
    doc = grade_json("nt_xent", "--file", WRONG_TEMPERATURE, "--seed", "0", "--skip", "speed")
    assert _check(doc, "matches_reference")["status"] == "failed"
    for name in ("gradients_match_reference", "symmetric_in_the_two_views", "low_temperature_float32"):
        check = _check(doc, name)
        assert check["status"] == "skipped" and check["message"].startswith("needs matches_reference"), check


@pytest.mark.slow   # a few long gradings: the slow tier
def test_speed_waits_for_matches_reference_unless_asked_for_by_name():
    doc = grade_json("nt_xent", "--file", WRONG_TEMPERATURE, "--seed", "0", "--only",
                     "matches_reference,speed")
    assert _check(doc, "speed_vs_reference")["status"] == "skipped"
    named = grade_json("nt_xent", "--file", WRONG_TEMPERATURE, "--seed", "0", "--only",
                       "matches_reference,gradients_match_reference")
    assert _check(named, "gradients_match_reference")["status"] == "failed"


@pytest.mark.slow   # a few long gradings: the slow tier
def test_thorough_runs_eight_times_the_examples():
    quick = grade_json("nt_xent", "--reference", "--seed", "2", "--only", "matches_reference")
    thorough = grade_json("nt_xent", "--reference", "--seed", "2", "--only", "matches_reference", "--thorough")
    assert _check(quick, "matches_reference")["examples"] == 25
    assert _check(thorough, "matches_reference")["examples"] == 200


@pytest.mark.parametrize("path", [
    SUBMISSIONS / "nt_xent" / "wrong_positive_index.py",
    SUBMISSIONS / "nce_loss" / "wrong_missing_log_k.py",
    SUBMISSIONS / "info_nce" / "wrong_target_index_one.py",
], ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_compact_report_of_a_single_bug_fits_a_40_line_terminal(path):
    proc = run_grade(path.parent.name, "--file", path, "--seed", "0", "--compact", "--skip", "speed",
                     env={"COLUMNS": "80"})
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) <= 40, proc.stdout
    assert max(len(line) for line in lines) <= 80


def test_usage_errors_do_not_import_torch():
    for args in (["nosuch"], ["nt_xent", "--file", "/nonexistent.py"], ["nt_xent", "--budget", "3"],
                 ["nt_xent", "--only", "matches_referense"]):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "grader", *args],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert proc.returncode == 2, args
        imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
        assert "torch" not in imported, args


def test_grading_leaves_no_hypothesis_folder(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    mine = work / "mine.py"
    mine.write_text(WRONG_TEMPERATURE.read_text())
    proc = run_grade("nt_xent", "--file", mine, "--seed", "0", "--only", "matches_reference", cwd=work,
                     env={"PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1, proc.stderr[-1000:]
    assert sorted(os.listdir(work)) == ["mine.py"]


def test_leaving_without_teardown_still_cleans_up_and_flushes_the_report(tmp_path):
    # grade exits with os._exit once torch is loaded: the exit handlers must still run (the
    # hypothesis folder under TMPDIR goes) and the report must be out in full, with the exit code.
    temp = tmp_path / "temp"
    temp.mkdir()
    proc = run_grade("nt_xent", "--file", WRONG_TEMPERATURE, "--seed", "0", "--only", "matches_reference",
                     env={"TMPDIR": str(temp)})
    assert proc.returncode == 1, proc.stderr[-1000:]
    assert proc.stdout.rstrip().endswith("NOT PASSED"), proc.stdout[-300:]
    assert os.listdir(temp) == []


def test_the_interface_results_reach_the_progress_line_before_the_checks_run():
    # The progress line (grade on a terminal) shows a result as soon as the submission has
    # loaded, not after pytest has started and run the first hidden check.
    script = (
        "import sys\n"
        "from grader.catalog import load_exercise\n"
        "from grader.engine import grade\n"
        "seen = []\n"
        "grade(load_exercise('nt_xent'), sys.argv[1], device='cpu', seed=0, only=['worked_example_from_spec'],\n"
        "      on_result=lambda r: seen.append(r.name))\n"
        "print(','.join(seen))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(WRONG_TEMPERATURE)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-1000:]
    seen = proc.stdout.strip().split(",")
    assert seen[:3] == ["module_imports", "defines_required_names", "functions_implemented"], seen
    assert seen[3:] == ["worked_example_from_spec"], seen
