"""rustlings' self-check: every reference solution passes all its checks, every untouched stub fails."""

from __future__ import annotations

import pytest

from conftest import grade_json, statuses
from grader.catalog import exercise_names


@pytest.mark.parametrize("exercise", exercise_names())
def test_reference_passes_every_check(exercise):
    doc = grade_json(exercise, "--reference", "--seed", "0", "--device", "cpu")
    bad = [c for c in doc["checks"] if c["status"] != "passed"]
    assert not bad, bad
    assert doc["passed"]


@pytest.mark.parametrize("exercise", exercise_names())
def test_untouched_stub_fails_as_not_implemented(exercise):
    doc = grade_json(exercise, "--seed", "0", "--device", "cpu", "--skip", "speed")
    assert not doc["passed"]
    messages = [c["message"] for c in doc["checks"] if c["status"] in ("failed", "error")]
    assert messages and any("not implemented yet" in m for m in messages), messages
    assert statuses(doc)["module_imports"] == "passed"
