"""Every submission in tests/submissions/<exercise>/ is graded; its docstring says what must happen.

A docstring line `expect: fail CHECK[, CHECK...]` means: graded with --only those
checks, each of them must end failed, error or timeout. `expect: pass` means a
full grading (speed excluded: a correct but differently written solution may be
slower) where every check passes. `seed: N` fixes the hypothesis seed (default 0).
`requires: MODULE` skips the submission where MODULE is not installed (the public
libraries of the bench extra, whose own implementations must pass).
"""

from __future__ import annotations

import pytest

from conftest import SUBMISSIONS, grade_json
from grader.devcheck import expectation, installed, verdict_problem


def _submissions():
    for path in sorted(SUBMISSIONS.glob("*/*.py")):
        yield pytest.param(path, id=f"{path.parent.name}/{path.stem}")


@pytest.mark.parametrize("path", list(_submissions()))
def test_submission_meets_its_expectation(path):
    expected = expectation(path)
    if expected.requires and not installed(expected.requires):
        pytest.skip(f"{expected.requires} is not installed (pip install -e '.[bench]')")
    args = ["--seed", expected.seed] + (["--skip", "speed"] if expected.verdict == "pass"
                                        else ["--only", ",".join(expected.checks)])
    doc = grade_json(path.parent.name, "--file", path, *args)
    problem = verdict_problem(doc, expected)
    assert problem is None, problem
