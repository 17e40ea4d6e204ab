"""Every exercise passes `grade dev check`: its files and info.toml, the reference passing every
check, the untouched stub failing as "not implemented yet", and every file of its catalogue
(tests/submissions/<exercise>/) getting the verdict its docstring states (grader/devcheck.py):

`expect: fail CHECK[, CHECK...]`: graded with --only those checks, each must end failed, error
or timeout. `expect: pass`: a full grading (speed excluded: a correct but differently written
solution may be slower) where every check passes. `seed: N` fixes the hypothesis seed
(default 0). `requires: MODULE` skips the file where MODULE is not installed (the public
libraries of the bench extra, whose own implementations must pass).

One `grade dev check NAME` process per exercise grades all of its files in turn: the parent
imports torch once per exercise, not once per file.
"""

from __future__ import annotations

import pytest

from conftest import run_grade
from grader.catalog import exercise_names


@pytest.mark.parametrize("exercise", exercise_names())
def test_exercise_passes_dev_check(exercise):
    proc = run_grade("dev", "check", exercise, timeout=1800)
    problems = [line for line in proc.stdout.splitlines() if line.startswith("PROBLEM ")]
    assert proc.returncode == 0, "\n".join(problems) or proc.stdout[-4000:] + proc.stderr[-2000:]
    assert not problems and "all good" in proc.stdout
