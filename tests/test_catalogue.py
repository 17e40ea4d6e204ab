"""Every submission in tests/submissions/<exercise>/ is graded; its docstring says what must happen.

A docstring line `expect: fail CHECK[, CHECK...]` means: graded with --only those
checks, each of them must end failed, error or timeout. `expect: pass` means a
full grading (speed excluded: a correct but differently written solution may be
slower) where every check passes. `seed: N` fixes the hypothesis seed (default 0).
`requires: MODULE` skips the submission where MODULE is not installed (the public
libraries of the bench extra, whose own implementations must pass).
"""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from conftest import SUBMISSIONS, grade_json, statuses

BAD = {"failed", "error", "timeout"}


def _expectation(path):
    text = path.read_text()
    match = re.search(r"^\s*expect:\s*(pass|fail\s+(.+))\s*$", text, re.MULTILINE)
    if not match:
        raise ValueError(f"{path} has no 'expect:' line in its docstring")
    seed = re.search(r"^\s*seed:\s*(\d+)\s*$", text, re.MULTILINE)
    checks = [c.strip() for c in (match.group(2) or "").split(",") if c.strip()]
    return ("pass" if match.group(1) == "pass" else "fail"), checks, int(seed.group(1)) if seed else 0


def _submissions():
    for path in sorted(SUBMISSIONS.glob("*/*.py")):
        yield pytest.param(path, id=f"{path.parent.name}/{path.stem}")


def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:   # already imported without a spec (benchmarks.peers may register lightly so)
        return module in sys.modules


@pytest.mark.parametrize("path", list(_submissions()))
def test_submission_meets_its_expectation(path):
    exercise = path.parent.name
    required = re.search(r"^\s*requires:\s*(\S+)\s*$", path.read_text(), re.MULTILINE)
    if required and not _installed(required.group(1)):
        pytest.skip(f"{required.group(1)} is not installed (pip install -e '.[bench]')")
    verdict, checks, seed = _expectation(path)
    if verdict == "pass":
        doc = grade_json(exercise, "--file", path, "--seed", seed, "--skip", "speed")
        bad = {n: s for n, s in statuses(doc).items() if s != "passed" and s != "skipped"}
        assert not bad, f"a correct submission failed: {[c for c in doc['checks'] if c['name'] in bad]}"
        assert doc["passed"]
    else:
        doc = grade_json(exercise, "--file", path, "--seed", seed, "--only", ",".join(checks))
        got = statuses(doc)
        for check in checks:
            assert check in got, f"no check named {check} (have {sorted(got)})"
            assert got[check] in BAD, f"{check} did not catch this bug: {got[check]}"
        assert not doc["passed"]
