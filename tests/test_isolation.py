"""Hostile or broken submissions: each gets a clear status in bounded time and cannot change the verdict."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import grade_json, run_grade, statuses

# Red-team submissions, each graded for real: the slow tier (python -m pytest -m slow).
pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent / "isolation"
QUICK = "worked_example_from_spec,matches_reference"


def grade_hostile(name, only=QUICK):
    started = time.monotonic()
    doc = grade_json("nt_xent", "--file", HERE / name, "--seed", "0", "--only", only, timeout=120)
    return doc, time.monotonic() - started


def message(doc, check):
    return next(c["message"] for c in doc["checks"] if c["name"] == check)


def test_infinite_loop_times_out_and_later_checks_do_not_hang():
    doc, wall = grade_hostile("infinite_loop.py")
    got = statuses(doc)
    assert got["worked_example_from_spec"] == "timeout"
    assert got["matches_reference"] == "skipped"
    assert "timed out in an earlier check" in message(doc, "matches_reference")
    assert wall < 60
    assert not doc["passed"]


@pytest.mark.parametrize("name", ["os_exit.py", "exits_early_with_fake_pass.py"])
def test_exit_during_a_call_is_a_crash(name):
    doc, wall = grade_hostile(name)
    assert statuses(doc)["worked_example_from_spec"] == "error"
    assert "crash" in message(doc, "worked_example_from_spec")
    assert "exited with code 0" in message(doc, "worked_example_from_spec")
    assert not doc["passed"] and wall < 60


def test_sys_exit_is_reported_as_a_crash():
    doc, _ = grade_hostile("sys_exit.py")
    assert statuses(doc)["worked_example_from_spec"] == "error"
    assert "sys.exit(0)" in message(doc, "worked_example_from_spec")


def test_segfault_is_a_crash_with_the_signal():
    doc, wall = grade_hostile("segfault.py")
    assert statuses(doc)["worked_example_from_spec"] == "error"
    assert "SIGSEGV" in message(doc, "worked_example_from_spec")
    assert wall < 60


def test_50_gb_allocation_is_a_memory_error():
    doc, wall = grade_hostile("huge_allocation.py")
    assert statuses(doc)["worked_example_from_spec"] == "error"
    assert message(doc, "worked_example_from_spec").startswith("memory:")
    assert wall < 60


def test_ten_megabytes_of_printing_is_capped_and_grading_continues():
    proc = run_grade("nt_xent", "--file", HERE / "print_flood.py", "--seed", "0", "--only", QUICK)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "(10485760 bytes, the first 2000 characters shown)" in proc.stdout
    assert len(proc.stdout) < 100_000


@pytest.mark.parametrize("name", ["forges_a_reply_frame.py", "floods_the_reply_channel.py"])
def test_junk_on_the_reply_channel_is_a_crash_not_a_grader_traceback(name):
    doc, wall = grade_hostile(name)
    assert statuses(doc)["module_imports"] == "failed"
    assert "malformed reply" in message(doc, "module_imports")
    assert not doc["passed"] and wall < 60


@pytest.mark.parametrize("name", ["hides_inplace_change_by_patching_detach.py",
                                  "hides_inplace_change_with_a_dispatch_mode.py"])
def test_an_in_place_change_hidden_from_the_child_runner_is_still_seen(name):
    doc, _ = grade_hostile(name, "inputs_not_modified")
    assert statuses(doc)["inputs_not_modified"] == "failed"
    assert "modified in place" in message(doc, "inputs_not_modified")


def test_an_empty_gradient_list_from_a_patched_child_is_not_a_pass():
    doc, _ = grade_hostile("empty_gradient_list.py", "worked_example_from_spec,gradients_match_reference")
    got = statuses(doc)
    assert got["worked_example_from_spec"] == "passed"  # the values are right
    assert got["gradients_match_reference"] == "error"
    assert "2 gradients were asked for" in message(doc, "gradients_match_reference")
    assert not doc["passed"]


def test_terminal_escapes_from_the_submission_are_shown_escaped():
    proc = run_grade("nt_xent", "--file", HERE / "terminal_escapes.py", "--seed", "0", "--only",
                     "worked_example_from_spec")
    assert proc.returncode == 1
    assert "\x1b" not in proc.stdout and "\x1b" not in proc.stderr
    assert "\\x1b[2J" in proc.stdout  # in the learner's output and in the error message
    assert "NOT PASSED" in proc.stdout


def test_syntax_error_reports_file_line_and_message():
    doc, _ = grade_hostile("syntax_error.py")
    assert statuses(doc)["module_imports"] == "failed"
    assert message(doc, "module_imports") == "SyntaxError in syntax_error.py line 4: expected ':'"
    assert "matches_reference" not in statuses(doc) and doc["not_run"] > 0


def test_exception_at_import_names_type_and_line():
    doc, _ = grade_hostile("raises_at_import.py")
    assert "ZeroDivisionError" in message(doc, "module_imports")
    assert "raises_at_import.py line 3" in message(doc, "module_imports")


def test_missing_function_names_what_the_spec_asks_for():
    doc, _ = grade_hostile("wrong_name.py")
    assert statuses(doc)["defines_required_names"] == "failed"
    assert "nt_xent" in message(doc, "defines_required_names")


def test_monkeypatching_comparisons_in_the_child_changes_nothing():
    doc, _ = grade_hostile("patches_allclose.py")
    assert statuses(doc)["matches_reference"] == "failed"
    assert statuses(doc)["worked_example_from_spec"] == "failed"
    assert not doc["passed"]


def test_fake_json_and_early_exit_do_not_reach_the_report():
    proc = run_grade("nt_xent", "--json", "--file", HERE / "fake_json.py", "--seed", "0", "--only", QUICK)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)  # exactly one document: the parent's
    assert doc["passed"] is False and doc["exercise"] == "nt_xent" and doc["checks"]
    assert statuses(doc)["module_imports"] == "failed"


@pytest.mark.parametrize("name", ["imports_reference.py", "reads_reference_file.py"])
def test_using_the_reference_solution_fails_integrity(name):
    doc, _ = grade_hostile(name)
    assert statuses(doc)["does_not_use_reference"] == "failed"
    assert not doc["passed"]


@pytest.mark.parametrize("route", ["dir_fd", "hard_link", "cat_relative", "cat_dotdot", "git_show", "catalogue"])
def test_indirect_reads_of_the_reference_fail_integrity(route):
    doc = grade_json("nt_xent", "--file", HERE / "reads_reference_indirectly.py", "--seed", "0",
                     "--only", "worked_example_from_spec", env={"READ_ROUTE": route}, timeout=120)
    got = statuses(doc)
    # the audit hook reports the attempt; where Landlock is in force the kernel may refuse a
    # step first (opening the kit's folder to get a descriptor), and the stub runs instead
    assert got["does_not_use_reference"] == "failed" or got["worked_example_from_spec"] == "failed", route
    assert not doc["passed"]


def _landlock_available() -> bool:
    from grader.landlock import landlock_abi

    return landlock_abi() >= 1


@pytest.mark.skipif(not _landlock_available(), reason="the kernel has no Landlock: only the audit hook guards")
def test_the_kernel_keeps_the_reference_unreadable_when_the_hook_is_switched_off():
    doc, _ = grade_hostile("disables_the_audit_hook.py")
    assert statuses(doc)["module_imports"] == "failed"
    assert "Permission denied" in message(doc, "module_imports")
    assert not doc["passed"]


def test_listing_folders_on_the_way_to_the_guarded_ones_is_allowed():
    doc, _ = grade_hostile("lists_folders.py")
    assert statuses(doc)["module_imports"] == "passed", message(doc, "module_imports")
    assert doc["passed"]


# -- contrastive_mnist: labels and time the grader keeps from the submission ------------------
def grade_mnist_hostile(name, only, tmp_path):
    env = {"CONTRASTIVE_KIT_CACHE": str(tmp_path / "cache"), "CONTRASTIVE_KIT_MNIST": ""}
    return grade_json("contrastive_mnist", "--file", HERE / name, "--seed", "0", "--budget", "3",
                      "--device", "cpu", "--only", only, env=env, timeout=300)


def test_reading_the_kits_labelled_digits_fails_integrity(tmp_path):
    doc = grade_mnist_hostile("reads_mnist_labels.py", "trains_within_budget", tmp_path)
    assert statuses(doc)["does_not_use_reference"] == "failed"
    assert "mnist5k-images-idx3-ubyte.xz" in message(doc, "does_not_use_reference")
    assert statuses(doc)["trains_within_budget"] != "passed"
    assert not doc["passed"]


@pytest.mark.skipif(not _landlock_available(), reason="the kernel has no Landlock: only the audit hook guards")
def test_the_kernel_keeps_the_labels_unreadable_when_the_hook_is_switched_off(tmp_path):
    doc = grade_mnist_hostile("reads_mnist_labels_without_the_hook.py", "trains_within_budget", tmp_path)
    assert statuses(doc)["module_imports"] == "failed"
    assert "Permission denied" in message(doc, "module_imports")
    assert not doc["passed"]


def test_labels_from_the_positions_of_the_images_are_worthless(tmp_path):
    doc = grade_mnist_hostile("labels_from_positions.py", "linear_probe_accuracy,beats_untrained_encoder",
                              tmp_path)
    assert statuses(doc)["linear_probe_accuracy"] == "failed"
    assert statuses(doc)["beats_untrained_encoder"] == "failed"
    assert not doc["passed"]


def test_progress_the_grader_cannot_show_is_ignored(tmp_path):
    doc = grade_mnist_hostile("reports_odd_progress.py", "trains_within_budget", tmp_path)
    assert statuses(doc)["trains_within_budget"] == "passed", message(doc, "trains_within_budget")
    assert "1 step, loss 0.500 -> 0.500" in message(doc, "trains_within_budget")


def test_training_left_running_after_train_encoder_returns_fails(tmp_path):
    doc = grade_mnist_hostile("trains_after_returning.py", "trains_within_budget,features_not_collapsed",
                              tmp_path)
    assert statuses(doc)["trains_within_budget"] == "failed"
    assert "training must be over when train_encoder returns" in message(doc, "trains_within_budget")
    assert statuses(doc)["features_not_collapsed"] != "passed"
    assert not doc["passed"]


@pytest.mark.skipif(not _landlock_available(), reason="the kernel has no Landlock")
def test_the_submission_cannot_write_to_the_graders_terminal():
    import os
    import pty

    master, slave = pty.openpty()
    try:
        doc = grade_json("nt_xent", "--file", HERE / "writes_to_the_terminal.py", "--seed", "0",
                         "--only", QUICK, env={"CONTRASTIVE_KIT_TEST_TTY": os.ttyname(slave)}, timeout=120)
        assert statuses(doc)["worked_example_from_spec"] == "passed"
        os.set_blocking(master, False)
        try:
            written = os.read(master, 4096)
        except BlockingIOError:
            written = b""
        assert written == b"", f"the submission wrote to the terminal: {written!r}"
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.skipif(not _landlock_available(), reason="the kernel has no Landlock")
def test_the_submission_cannot_write_the_learners_progress(state_dir):
    state_dir.mkdir(parents=True, exist_ok=True)
    record = state_dir / "progress.json"
    record.write_text("{}")
    doc = grade_json("nt_xent", "--file", HERE / "forges_progress.py", "--seed", "0", "--only", QUICK,
                     timeout=120)
    assert statuses(doc)["worked_example_from_spec"] == "passed"
    assert "forged" not in record.read_text()


@pytest.mark.skipif(not _landlock_available(), reason="the kernel has no Landlock")
def test_a_symlink_next_to_a_folder_on_the_way_does_not_grant_it_back(tmp_path):
    import subprocess
    import sys

    (tmp_path / "kit" / "secret").mkdir(parents=True)
    (tmp_path / "kit" / "secret" / "answer.txt").write_text("42")
    (tmp_path / "kit-current").symlink_to(tmp_path / "kit")   # as pytest-current is to pytest-97
    (tmp_path / "kit" / "self").symlink_to(tmp_path / "kit")
    probe = ("import sys; sys.path.insert(0, 'grader'); import landlock\n"
             f"assert landlock.deny_reads([{str(tmp_path / 'kit' / 'secret')!r}]) is None\n"
             "for path in sys.argv[1:]:\n"
             "    try:\n        open(path).read(); print('read', path)\n"
             "    except PermissionError:\n        print('denied', path)\n")
    paths = [tmp_path / "kit" / "secret" / "answer.txt", tmp_path / "kit-current" / "secret" / "answer.txt",
             tmp_path / "kit" / "self" / "secret" / "answer.txt"]
    out = subprocess.run([sys.executable, "-c", probe, *map(str, paths)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [word for p in paths for word in ("denied", str(p))]


def test_untouched_stub_says_not_implemented():
    doc = grade_json("nt_xent", "--seed", "0", "--only", QUICK)
    assert statuses(doc)["functions_implemented"] == "failed"
    assert message(doc, "functions_implemented").startswith("not implemented yet")
    assert statuses(doc)["does_not_use_reference"] == "passed"


def test_a_stub_that_plants_a_module_has_it_set_aside_for_later_gradings(tmp_path):
    # A stub's report ends before pytest imports pdb lazily, so the import guard never meets
    # the planted pdb.py: the scan at the end sets it aside instead, or the next grading
    # (to which the file is no longer new) would import it.
    stub = tmp_path / "stub_that_plants.py"
    stub.write_text((HERE / "shadows_a_module.py").read_text().replace(
        "return (z1 * z2).sum() * 0", "raise NotImplementedError"))
    work = tmp_path / "work"
    work.mkdir()
    doc = grade_json("nt_xent", "--file", stub, "--seed", "0", cwd=work, env={"PLANT_DIR": str(work)})
    assert statuses(doc)["functions_implemented"] == "failed"
    assert statuses(doc)["does_not_use_reference"] == "failed"
    assert "pdb.py" in message(doc, "does_not_use_reference")
    assert not (work / "pdb.py").exists() and (work / "pdb.py.refused-by-grader").exists()
    later = grade_json("nt_xent", "--file", HERE / "extra_cores.py", "--seed", "0", "--only",
                       "worked_example_from_spec", cwd=work)
    assert statuses(later)["does_not_use_reference"] == "passed"
    assert not (work / "SHADOW_RAN").exists()


# -- processes the submission leaves running ---------------------------------------------
def _state(pid):
    """The kernel's one-letter state of pid ('T' stopped, 'Z' zombie), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _gone(pids, within=5.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(_state(p) in (None, "Z", "X") for p in pids):
            return True
        time.sleep(0.05)
    return False


def _copy_helpers(tmp_path):
    target = tmp_path / "forks_helpers.py"
    target.write_text((HERE / "forks_helpers.py").read_text())
    return target


def test_paused_stops_the_child_and_its_helpers_and_close_kills_the_helpers(tmp_path):
    from grader.sandbox import ChildProcess

    child = ChildProcess(_copy_helpers(tmp_path), require=["nt_xent"])
    assert child.start().ok
    helpers = [int(p) for p in (tmp_path / "helper_pids.txt").read_text().split()]
    everyone = [child.proc.pid, *helpers]
    try:
        assert len(helpers) == 2 and all(_state(p) not in (None, "T", "Z") for p in everyone)
        with child.paused():
            assert [_state(p) for p in everyone] == ["T"] * 3
        assert all(_state(p) not in ("T", "t") for p in everyone)
    finally:
        child.close()
    assert _gone(helpers), f"helpers outlived the child: {[(p, _state(p)) for p in helpers]}"


def test_helpers_forked_by_a_submission_do_not_outlive_the_grading(tmp_path):
    path = _copy_helpers(tmp_path)
    doc = grade_json("nt_xent", "--file", path, "--only", "worked_example_from_spec", timeout=120)
    assert statuses(doc)["worked_example_from_spec"] == "passed"
    helpers = [int(p) for p in (tmp_path / "helper_pids.txt").read_text().split()]
    assert helpers and _gone(helpers), f"still running: {[(p, _state(p)) for p in helpers]}"


def test_extra_cores_in_the_timed_calls_fail_the_speed_check():
    doc, _ = grade_hostile("extra_cores.py", only="matches_reference,speed_vs_reference")
    got = statuses(doc)
    assert got["matches_reference"] == "passed"   # the values are right: only the cores are wrong
    assert got["speed_vs_reference"] == "failed"
    assert "CPU cores" in message(doc, "speed_vs_reference")


@pytest.mark.parametrize("wall, cpu, threads, verdict", [
    ([0.05] * 5, [0.05] * 5, 1, "ok"),          # one core busy: fine
    ([0.05] * 5, [0.09] * 5, 1, "fail"),        # ~two cores
    ([0.05] * 5, [0.07] * 5, 1, "fail"),        # 1.4 cores: a second core used part of the time
    ([0.05] * 5, [0.09] * 5, 2, "ok"),          # two threads were allowed
    ([0.005] * 5, [0.01] * 5, 1, "ok"),         # too little wall time to judge at 10 ms ticks
    ([0.05] * 5, [None] * 5, 1, "ok"),          # /proc unavailable
])
def test_cores_rule(wall, cpu, threads, verdict):
    from grader.timing import _check_cores

    if verdict == "ok":
        _check_cores(wall, cpu, threads)
    else:
        with pytest.raises(AssertionError, match="CPU cores"):
            _check_cores(wall, cpu, threads)


def test_changing_the_kits_files_fails_integrity():
    placed = Path(__file__).resolve().parents[1] / "grader" / "_placed_by_a_submission.py"
    try:
        doc, _ = grade_hostile("rewrites_kit_files.py", only="matches_reference,speed_vs_reference")
    finally:
        placed.unlink(missing_ok=True)
    got = statuses(doc)
    assert got["matches_reference"] == "passed"
    assert got["speed_vs_reference"] == "error"   # the reference child is not started from changed files
    assert got["does_not_use_reference"] == "failed"
    assert "grader/_placed_by_a_submission.py" in message(doc, "does_not_use_reference")
    assert not doc["passed"]


def test_a_module_planted_on_the_graders_path_is_refused_and_set_aside(tmp_path):
    # `python -m grader` puts its working folder first on sys.path; pytest imports pdb lazily.
    proc = run_grade("nt_xent", "--json", "--file", HERE / "shadows_a_module.py", "--seed", "0",
                     "--only", "worked_example_from_spec", cwd=tmp_path, env={"PLANT_DIR": str(tmp_path)})
    doc = json.loads(proc.stdout)
    assert not doc["passed"] and proc.returncode == 1
    assert statuses(doc)["does_not_use_reference"] == "failed"
    assert "refused code written while the submission ran for Python to load: pdb" in message(doc, "does_not_use_reference")
    assert not (tmp_path / "SHADOW_RAN").exists()
    assert not (tmp_path / "pdb.py").exists() and (tmp_path / "pdb.py.refused-by-grader").exists()


def test_a_forged_bytecode_cache_in_the_kit_fails_integrity_and_is_deleted():
    import importlib.util

    from conftest import ROOT

    results_py = ROOT / "grader" / "results.py"
    pyc = Path(importlib.util.cache_from_source(str(results_py)))
    marker = results_py.parent / "FORGED_PYC_RAN"
    try:
        doc = grade_json("nt_xent", "--file", HERE / "forges_a_kit_pyc.py", "--seed", "0",
                         "--only", "worked_example_from_spec")
        assert statuses(doc)["does_not_use_reference"] == "failed"
        assert "grader/__pycache__/results." in message(doc, "does_not_use_reference")
        assert not pyc.exists()  # deleted: it cannot take effect in a later grading
        later = grade_json("nt_xent", "--seed", "0", "--only", "worked_example_from_spec")
        assert statuses(later)["functions_implemented"] == "failed"   # the untouched stub
        assert not marker.exists()
    finally:
        pyc.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)


def test_a_startup_file_planted_in_site_packages_is_set_aside(tmp_path):
    import site

    env = {"PYTHONUSERBASE": str(tmp_path)}
    doc = grade_json("nt_xent", "--file", HERE / "plants_a_startup_file.py", "--seed", "0",
                     "--only", "worked_example_from_spec,speed_vs_reference", env=env)
    assert statuses(doc)["does_not_use_reference"] == "failed"
    assert "planted" in message(doc, "does_not_use_reference")
    assert statuses(doc)["speed_vs_reference"] != "passed"   # the reference's child was not started
    folder = Path(subprocess_user_site(env))
    assert not (folder / "zz_planted.pth").exists() and (folder / "zz_planted.pth.refused-by-grader").exists()
    later = grade_json("nt_xent", "--seed", "0", "--only", "worked_example_from_spec", env=env)
    assert not later["passed"]
    assert not (folder / "STARTUP_HOOK_RAN").exists()


def subprocess_user_site(env) -> str:
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "import site; print(site.getusersitepackages())"],
                          env=dict(os.environ, **env), capture_output=True, text=True).stdout.strip()
