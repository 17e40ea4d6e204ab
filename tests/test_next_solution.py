"""The path through the kit: info.toml's `order`, `grade list` in that order, `grade next`,
and `grade solution` after a pass (or with --force, recorded in `grade progress`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib

import pytest

from conftest import ROOT

from grader import progress
from grader.catalog import UsageError, exercise_names, load_exercise, recommended_order

KIT_ORDER = {"nt_xent": 1, "info_nce": 2, "nce_loss": 3, "negative_sampler": 4, "clip_loss": 5,
             "supcon_loss": 6, "triplet_loss": 7, "representation_metrics": 8, "retrieval_metrics": 9,
             "debiased_losses": 10, "redundancy_losses": 11, "simsiam_loss": 12, "moco_step": 13,
             "grad_cache_step": 14, "contrastive_mnist": 15}


def run_grade(*args, cwd=None, timeout=120) -> subprocess.CompletedProcess:
    """`python -m grader ARGS`, on a terminal width at which rich wraps no table cell."""
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd or ROOT,
                          env=dict(os.environ, COLUMNS="250"))


def one_line_error(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def mark(name: str, *, passed: bool, passed_checks: int = 0, total_checks: int = 20,
         filtered: bool = False) -> None:
    """Record one grading of NAME in the state file, as `grade NAME` would."""
    with progress.update() as state:
        ex = progress.entry(state.data, name)
        ex["attempts"].append({"at": progress.now_iso(), "mode": "grade", "filtered": filtered,
                               "passed": passed, "passed_checks": passed_checks,
                               "total_checks": total_checks})
        ex["attempts_total"] = len(ex["attempts"])
        if passed and not filtered:
            ex.setdefault("first_pass", progress.now_iso())


def fake_kit(tmp_path, monkeypatch, orders: dict) -> None:
    """A kit whose exercises are copies of real ones with the given `order` (None: no line)."""
    import grader.catalog as catalog

    kit = tmp_path / "kit"
    for name, order in orders.items():
        (kit / name).mkdir(parents=True)
        for part in ("spec.md", "stub.py"):
            (kit / name / part).write_bytes((ROOT / "exercises" / name / part).read_bytes())
        info = re.sub(r"(?m)^order = .*\n", "", (ROOT / "exercises" / name / "info.toml").read_text())
        if order is not None:
            info = f"order = {order}\n" + info
        (kit / name / "info.toml").write_text(info)
    monkeypatch.setattr(catalog, "EXERCISES_DIR", kit)


# ----------------------------------------------------------------------------- order


def test_every_exercise_states_a_distinct_order():
    orders = {}
    for name in exercise_names():
        raw = tomllib.loads((ROOT / "exercises" / name / "info.toml").read_text())
        assert type(raw.get("order")) is int and raw["order"] >= 1, f"{name}: no order = N"
        orders[name] = load_exercise(name).order
        assert orders[name] == raw["order"]
    assert len(set(orders.values())) == len(orders), f"two exercises share an order: {orders}"
    for name, order in KIT_ORDER.items():
        assert orders[name] == order


@pytest.mark.parametrize("bad", ['"2"', "0", "-1", "true", "1.5"])
def test_a_bad_order_is_a_one_line_usage_error(tmp_path, monkeypatch, capsys, bad):
    from grader.cli import main

    fake_kit(tmp_path, monkeypatch, {"nt_xent": 1})
    info = tmp_path / "kit" / "nt_xent" / "info.toml"
    info.write_text(re.sub(r"(?m)^order = .*$", f"order = {bad}", info.read_text()))
    with pytest.raises(UsageError, match="order must be a positive integer"):
        load_exercise("nt_xent")
    assert main(["spec", "nt_xent"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "order must be a positive integer" in err


def test_list_shows_the_recommended_order(state_dir):
    proc = run_grade("list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["exercises"]
    assert [r["name"] for r in rows] == sorted(KIT_ORDER, key=KIT_ORDER.get)
    assert [r["order"] for r in rows] == sorted(KIT_ORDER.values())
    text = run_grade("list").stdout
    at = [text.index(name) for name in sorted(KIT_ORDER, key=KIT_ORDER.get)]
    assert at == sorted(at), "the table is not in the recommended order"
    assert "next: nt_xent" in text


def test_exercises_without_an_order_come_last_alphabetically(tmp_path, monkeypatch, capsys):
    from grader.cli import main

    fake_kit(tmp_path, monkeypatch, {"nt_xent": 7, "info_nce": None, "nce_loss": 2,
                                     "contrastive_mnist": None, "negative_sampler": 7})
    expected = ["nce_loss", "negative_sampler", "nt_xent", "contrastive_mnist", "info_nce"]
    assert [e.name for e in recommended_order([load_exercise(n) for n in exercise_names()])] \
        == expected
    assert main(["list", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)["exercises"]] == expected
    for name in expected[:3]:  # every ordered exercise passed: the next is unordered, alphabetical
        mark(name, passed=True, passed_checks=20)
    assert main(["next", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["next"] == "contrastive_mnist"


# ----------------------------------------------------------------------------- next


def test_next_is_the_lowest_order_not_yet_passed(state_dir):
    first = run_grade("next")
    assert first.returncode == 0, first.stderr
    assert f"next: nt_xent · 1 of {len(KIT_ORDER)}" in first.stdout
    assert "exercises/nt_xent/stub.py" in first.stdout and "exercises/nt_xent/spec.md" in first.stdout
    assert "normalized temperature-scaled cross-entropy" in first.stdout  # the spec's opening
    assert "## Contract" not in first.stdout and "Contract" not in first.stdout
    assert progress.read()["exercises"]["nt_xent"].get("started")  # opening it starts the clock

    mark("nt_xent", passed=True, passed_checks=20)
    mark("info_nce", passed=False, passed_checks=3)  # attempted is not passed
    mark("nce_loss", passed=True, passed_checks=20)
    doc = json.loads(run_grade("next", "--json").stdout)
    assert doc["next"] == "info_nce" and doc["position"] == 2 and doc["status"] == "attempted"
    assert doc["file"] == "exercises/info_nce/stub.py" and doc["summary"].startswith("InfoNCE")

    mark("info_nce", passed=True, passed_checks=20)
    assert json.loads(run_grade("next", "--json").stdout)["next"] == "negative_sampler"
    mark("info_nce", passed=True, passed_checks=20, filtered=True)
    for name in KIT_ORDER:
        mark(name, passed=True, passed_checks=20)
    done = run_grade("next")
    assert done.returncode == 0 and f"passed all {len(KIT_ORDER)} exercises" in done.stdout
    assert json.loads(run_grade("next", "--json").stdout)["next"] is None


def test_next_in_a_workspace_points_at_the_workspace_copy(tmp_path, state_dir):
    ws = tmp_path / "ws"
    assert run_grade("init", ws).returncode == 0
    doc = json.loads(run_grade("next", "--json", cwd=ws).stdout)
    assert doc["file"] == "nt_xent/stub.py" and doc["spec"] == "nt_xent/spec.md"


def test_spec_summary_is_the_opening_of_any_spec():
    from grader.commands.next import spec_summary

    assert spec_summary("# T\n\nIntro one.\n\nIntro two.\n\n## A\n\nbody\n") == \
        "Intro one.\n\nIntro two.\n"
    assert spec_summary("T\n===\n\nIntro.\n\nA\n-\n\nbody\n") == "Intro.\n"
    assert spec_summary("Just a paragraph.\n\nAnother.\n") == "Just a paragraph.\n"
    assert spec_summary("Preface.\n\n# T\n\nx\n") == "Preface.\n"


# ----------------------------------------------------------------------------- solution


def test_solution_before_a_pass_says_how_many_checks_remain(state_dir):
    reference = (ROOT / "solutions" / "nt_xent.py").read_text()
    never = run_grade("solution", "nt_xent")
    assert never.returncode == 1 and never.stderr == ""
    assert "no full grading" in never.stdout and "--force" in never.stdout
    assert "def nt_xent" not in never.stdout

    mark("nt_xent", passed=False, passed_checks=12, total_checks=20)
    mark("nt_xent", passed=False, passed_checks=3, total_checks=4, filtered=True)  # not full
    later = run_grade("solution", "nt_xent")
    assert later.returncode == 1 and "8 of 20 checks still to pass" in later.stdout
    assert "def nt_xent" not in later.stdout and reference.splitlines()[0] not in later.stdout
    assert not progress.read()["exercises"]["nt_xent"].get("solution_seen")


def test_solution_after_a_pass_shows_the_reference_and_its_notes(state_dir):
    mark("nt_xent", passed=True, passed_checks=20)
    proc = run_grade("solution", "nt_xent")
    assert proc.returncode == 0, proc.stderr
    reference = (ROOT / "solutions" / "nt_xent.py").read_text()
    assert reference.rstrip("\n") in proc.stdout  # piped: the file as it is
    assert "solutions/nt_xent_fast.py" in proc.stdout  # the follow-up's version, pointed to
    assert "before you passed" not in proc.stdout
    ex = progress.read()["exercises"]["nt_xent"]
    assert ex["solution_seen"] and not ex.get("solution_seen_before_pass")
    row = next(r for r in json.loads(run_grade("progress", "--json").stdout)["exercises"]
               if r["name"] == "nt_xent")
    assert row["solution_seen"] and row["solution_seen_before_pass"] is False
    line = next(x for x in run_grade("progress").stdout.splitlines() if "nt_xent" in x)
    assert "seen" in line and "before pass" not in line


def test_solution_force_shows_it_and_progress_says_so(state_dir):
    mark("info_nce", passed=False, passed_checks=5, total_checks=20)
    proc = run_grade("solution", "info_nce", "--force")
    assert proc.returncode == 0, proc.stderr
    assert (ROOT / "solutions" / "info_nce.py").read_text().rstrip("\n") in proc.stdout
    assert "before you passed" in proc.stdout
    doc = json.loads(run_grade("progress", "--json").stdout)
    row = next(r for r in doc["exercises"] if r["name"] == "info_nce")
    assert row["solution_seen_before_pass"] is True and row["status"] == "attempted"
    assert doc["totals"]["solutions_seen_before_pass"] == 1
    text = run_grade("progress")
    assert "seen before pass" in text.stdout and "1 solution seen before passing" in text.stdout
    # a later pass does not erase that it was seen first
    mark("info_nce", passed=True, passed_checks=20)
    assert run_grade("solution", "info_nce").returncode == 0
    assert progress.read()["exercises"]["info_nce"]["solution_seen_before_pass"] is True


@pytest.mark.parametrize("args", [["solution"], ["solution", "nope"], ["solution", "nope", "--force"],
                                  ["solution", "nt_xent", "--bogus"], ["next", "extra"],
                                  ["next", "--bogus"], ["list", "extra"]])
def test_bad_input_is_one_line_and_exit_2(args, state_dir):
    proc = run_grade(*args)
    assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
    one_line_error(proc)


def test_new_commands_are_documented_with_an_example():
    from grader.cli import subcommands

    assert {"next", "solution"} <= set(subcommands())
    docs = (ROOT / "docs" / "commands.md").read_text()
    blocks = "\n".join(re.findall(r"```[^\n]*\n(.*?)```", docs, re.DOTALL))
    for name in ("next", "solution"):
        assert re.search(rf"^grade {name}\b", blocks, re.MULTILINE), f"no example of `grade {name}`"
        assert f"## `grade {name}" in docs
