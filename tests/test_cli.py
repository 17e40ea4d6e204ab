"""The `grade` command's contract: exit codes, one-line usage errors, the JSON schema, plain output."""

from __future__ import annotations

import json

from conftest import ROOT, run_grade

CHECK_KEYS = {"name", "category", "status", "message", "duration_s"}
TOP_KEYS = {"exercise", "file", "device", "seed", "passed", "duration_s", "checks"}
STATUSES = {"passed", "failed", "error", "skipped", "timeout"}


def one_line_error(proc):
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_unknown_exercise_exits_2_and_lists_known_ones():
    proc = run_grade("no_such_exercise")
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "unknown exercise 'no_such_exercise'" in line and "nt_xent" in line


def test_missing_file_exits_2():
    proc = run_grade("nt_xent", "--file", "does/not/exist.py")
    assert proc.returncode == 2
    assert "no such file" in one_line_error(proc)


def test_bad_option_exits_2_in_one_line():
    for args in (["nt_xent", "--device", "tpu"], ["nt_xent", "--seed", "abc"], ["nt_xent", "--bogus"]):
        proc = run_grade(*args)
        assert proc.returncode == 2, args
        one_line_error(proc)


def test_file_and_reference_together_is_a_usage_error():
    proc = run_grade("nt_xent", "--reference", "--file", ROOT / "exercises/nt_xent/stub.py")
    assert proc.returncode == 2
    one_line_error(proc)


def test_json_schema_and_exit_code_for_a_passing_run():
    proc = run_grade("nt_xent", "--reference", "--json", "--seed", "3", "--skip", "speed")
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert set(doc) == TOP_KEYS
    assert doc["exercise"] == "nt_xent" and doc["device"] == "cpu" and doc["seed"] == 3
    assert doc["passed"] is True and doc["file"] == "solutions/nt_xent.py"
    assert isinstance(doc["duration_s"], float)
    for check in doc["checks"]:
        assert set(check) == CHECK_KEYS
        assert check["status"] in STATUSES
    names = [c["name"] for c in doc["checks"]]
    assert len(names) == len(set(names))
    assert {"matches_reference", "gradcheck_float64", "does_not_use_reference"} <= set(names)


def test_failing_run_exits_1_and_plain_output_has_no_escape_codes():
    proc = run_grade("nt_xent", "--seed", "0", "--only", "matches_reference")
    assert proc.returncode == 1
    assert "\x1b[" not in proc.stdout
    assert "not implemented yet" in proc.stdout
    assert "NOT PASSED" in proc.stdout


def test_cuda_request_without_cuda_skips_device_checks_with_a_reason():
    import torch

    if torch.cuda.is_available():
        return
    proc = run_grade("nt_xent", "--reference", "--json", "--device", "cuda", "--seed", "0",
                     "--only", "matches_reference")
    doc = json.loads(proc.stdout)
    check = next(c for c in doc["checks"] if c["name"] == "matches_reference")
    assert check["status"] == "skipped" and "CUDA is not available" in check["message"]
    assert doc["passed"] is False and proc.returncode == 1


def test_messages_carry_no_absolute_paths(tmp_path):
    bad = tmp_path / "deep" / "folder"
    bad.mkdir(parents=True)
    (bad / "mine.py").write_text("def nt_xent(z1, z2, temperature=0.5):\n    raise RuntimeError('boom')\n")
    proc = run_grade("nt_xent", "--json", "--file", bad / "mine.py", "--seed", "0", "--only",
                     "worked_example_from_spec")
    doc = json.loads(proc.stdout)
    text = json.dumps(doc["checks"])
    assert str(tmp_path) not in text
    assert "mine.py line 2" in text
