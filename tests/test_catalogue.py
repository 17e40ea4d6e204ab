"""Every exercise passes `grade dev check`: its files and info.toml, the reference passing every
check, the untouched stub failing as "not implemented yet", and every file of its catalogue
(tests/submissions/<exercise>/) getting the verdict its docstring states (grader/devcheck.py):

`expect: fail CHECK[, CHECK...]`: graded with --only those checks, each must end failed, error
or timeout. `expect: pass`: a full grading (speed excluded: a correct but differently written
solution may be slower) where every check passes. `seed: N` fixes the hypothesis seed
(default 0). `requires: MODULE` skips the file where MODULE is not installed (the public
libraries of the bench extra, whose own implementations must pass).

The fast tier grades each wrong file on the checks it names (grader/devcheck.py is_fast); the
slow tier (`-m slow`) does the full gradings and the checks that time or train. A `grade dev
check` process grades many files in turn: its parent imports torch once, and a zygote forks
each file's child (sandbox.WarmChildren). The fast part starts as the session does, in two
such processes beside the other tests (conftest.py), and each test here reads its result.
"""

from __future__ import annotations

import pytest

from conftest import catalogue_result, run_grade
from grader.catalog import exercise_names


def _assert_all_good(exercise: str, returncode: int, stdout: str, stderr: str) -> None:
    problems = [line for line in stdout.splitlines() if line.startswith(f"PROBLEM {exercise}:")]
    assert not problems, "\n".join(problems)
    assert f"CHECKED {exercise}" in stdout.splitlines(), stdout[-4000:] + stderr[-2000:]


@pytest.mark.parametrize("exercise", exercise_names())
def test_catalogue_fast_part(exercise):
    """Files, info.toml, the stub, and each wrong file on the checks it names (no timing, no training)."""
    _assert_all_good(exercise, *catalogue_result(exercise))


@pytest.mark.slow
@pytest.mark.parametrize("exercise", exercise_names())
def test_catalogue_slow_part(exercise):
    """The reference's and the right files' full gradings, and the wrong files caught by speed or training checks."""
    proc = run_grade("dev", "check", exercise, "--part", "slow", timeout=1800, env={"COLUMNS": "200"})
    _assert_all_good(exercise, proc.returncode, proc.stdout, proc.stderr)
