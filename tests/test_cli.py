"""The `grade` command's contract: exit codes, one-line usage errors, the JSON schema, plain output."""

from __future__ import annotations

import json

from conftest import ROOT, run_grade

CHECK_KEYS = {"name", "category", "status", "message", "duration_s", "input", "replay", "examples",
              "expected", "got", "hint"}
TOP_KEYS = {"version", "exercise", "file", "device", "seed", "passed", "not_run", "duration_s", "checks"}
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


def test_file_naming_a_folder_says_so(tmp_path):
    proc = run_grade("nt_xent", "--file", tmp_path)
    assert proc.returncode == 2
    assert "is a folder" in one_line_error(proc)


def test_bad_option_exits_2_in_one_line():
    for args in (["nt_xent", "--device", "tpu"], ["nt_xent", "--seed", "abc"], ["nt_xent", "--bogus"]):
        proc = run_grade(*args)
        assert proc.returncode == 2, args
        one_line_error(proc)


def test_unknown_check_name_is_a_usage_error_not_an_empty_pass():
    # A typo in --only used to run just the interface checks, and the stub "PASSED".
    for flag in ("--only", "--skip"):
        proc = run_grade("nt_xent", flag, "matches_referense", "--json")
        assert proc.returncode == 2, (flag, proc.stdout[-500:])
        line = one_line_error(proc)
        assert "'matches_referense'" in line and "matches_reference" in line and "gradients" in line
        assert proc.stdout == ""


def test_skip_accepts_a_category_another_exercise_has():
    # a script may pass --skip speed to every exercise; contrastive_mnist has no speed checks
    proc = run_grade("contrastive_mnist", "--json", "--skip", "speed,training,properties,hygiene",
                     "--seed", "0")
    assert proc.returncode == 1, proc.stderr[-2000:]  # the stub fails its unit checks
    assert "speed" not in {c["category"] for c in json.loads(proc.stdout)["checks"]}


def test_category_and_check_names_are_accepted_by_only():
    proc = run_grade("nt_xent", "--json", "--seed", "0", "--only", "interface,gradcheck_float64",
                     "--file", ROOT / "tests/submissions/nt_xent/wrong_no_validation.py")
    assert proc.returncode == 1, proc.stderr[-2000:]
    names = {c["name"] for c in json.loads(proc.stdout)["checks"]}
    assert "gradcheck_float64" in names and "rejects_mismatched_shapes" in names
    assert "matches_reference" not in names


def test_budget_is_positive_and_only_for_the_exercise_that_reads_it():
    for args in (["contrastive_mnist", "--budget", "0"], ["contrastive_mnist", "--budget", "-5"],
                 ["nt_xent", "--budget", "10"]):
        proc = run_grade(*args)
        assert proc.returncode == 2, args
        line = one_line_error(proc)
        assert "budget" in line, line


def test_missing_data_dir_is_a_usage_error(tmp_path):
    proc = run_grade("contrastive_mnist", "--data-dir", tmp_path / "nope")
    assert proc.returncode == 2
    assert "no such folder" in one_line_error(proc)
    proc = run_grade("nt_xent", "--data-dir", tmp_path)  # a folder, but nt_xent reads no data
    assert proc.returncode == 2
    assert "--data-dir does not apply to nt_xent" in one_line_error(proc)


def test_data_command_into_an_unusable_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run_grade("data", "mnist", "--dir", blocker / "sub", "--mirror", (tmp_path / "none").as_uri())
    assert proc.returncode == 2
    assert "cannot write to" in one_line_error(proc)


def test_file_and_reference_together_is_a_usage_error():
    proc = run_grade("nt_xent", "--reference", "--file", ROOT / "exercises/nt_xent/stub.py")
    assert proc.returncode == 2
    one_line_error(proc)


def test_json_schema_and_exit_code_for_a_passing_run():
    proc = run_grade("nt_xent", "--reference", "--json", "--seed", "3", "--skip", "speed")
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert set(doc) == TOP_KEYS and doc["version"] == 3
    assert doc["exercise"] == "nt_xent" and doc["device"] == "cpu" and doc["seed"] == 3
    assert doc["passed"] is True and doc["file"] == "solutions/nt_xent.py"
    assert isinstance(doc["duration_s"], float)
    for check in doc["checks"]:
        assert set(check) == CHECK_KEYS
        assert check["status"] in STATUSES
    names = [c["name"] for c in doc["checks"]]
    assert len(names) == len(set(names))
    assert {"matches_reference", "gradcheck_float64", "does_not_use_reference"} <= set(names)


def test_a_failed_comparison_carries_expected_and_got_in_the_json():
    proc = run_grade("nt_xent", "--json", "--seed", "0", "--only", "worked_example_from_spec,matches_reference",
                     "--file", ROOT / "tests/submissions/nt_xent/wrong_temperature_multiplied.py")
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    worked = checks["worked_example_from_spec"]
    assert worked["status"] == "failed" and worked["expected"] == "0.63667096"
    assert worked["got"] and worked["got"] != worked["expected"] and worked["got"] in worked["message"]
    assert checks["matches_reference"]["expected"] and checks["matches_reference"]["got"]


def test_failing_run_exits_1_and_plain_output_has_no_escape_codes_or_boxes():
    proc = run_grade("nt_xent", "--seed", "0", "--only", "matches_reference")
    assert proc.returncode == 1
    assert "\x1b[" not in proc.stdout
    assert "not implemented yet" in proc.stdout
    assert "NOT PASSED" in proc.stdout
    assert not set("│─┃━╭╮╰╯┏┓") & set(proc.stdout), proc.stdout


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
