"""The busy clock a training budget is measured on (child.py _BusyClock): wall time on an idle
machine, slower by the time the child waited for a CPU while other programs held every core."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from grader.sandbox import ChildProcess, Learner

SUBMISSION = '''
import time


def spin_for(seconds):
    """Busy-wait until time.monotonic() has advanced by seconds; how many loops that took."""
    start, loops = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        loops += 1
    return loops


def clock_is_real():
    return time.monotonic.__name__ == "monotonic"


def spin_then_stop_the_clock(seconds):
    """A submission that trains past its budget and then stops the clock it was given."""
    clock = next(cell.cell_contents for cell in time.monotonic.__closure__
                 if hasattr(cell.cell_contents, "elapsed"))
    loops = spin_for(seconds)
    type(clock).elapsed = lambda self: 0.1
    return loops
'''


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    path = tmp_path_factory.mktemp("clock") / "submission.py"
    path.write_text(SUBMISSION)
    child = ChildProcess(path, threads=1)
    assert child.start().ok
    yield Learner(child, "cpu")
    child.close()


def _hogs(count: int):
    """Processes that keep count cores busy (one spinning thread each) until stopped, each in a
    session of its own, as other programs are: with autogrouping, Linux shares the CPU between
    sessions first, so hogs in the test's own session would barely slow the child."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(count)]


def test_the_busy_clock_never_runs_ahead_of_wall_time_and_only_in_its_call(learner):
    result = learner.call("spin_for", 1.0, busy_clock=True, timeout=30)
    assert 0.9 <= result.budget_seconds <= 1.1   # the child reads its waits every 50 ms, the parent at the end
    assert result.budget_seconds <= result.child_seconds + 0.01   # equal where nothing else runs
    assert learner.call("clock_is_real").output is True   # only the call asked for it has the clock


def test_the_busy_clock_waits_while_other_programs_hold_every_core(learner):
    hogs = _hogs(2 * (os.cpu_count() or 1))
    try:
        time.sleep(0.2)
        result = learner.call("spin_for", 1.0, busy_clock=True, timeout=60)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert 0.9 <= result.budget_seconds <= 1.1   # the child reads its waits every 50 ms, the parent at the end
    # with three runnable processes per core the child gets about a third of one: the wall time
    # stretches, and the clock leaves out the waiting
    assert result.child_seconds > 1.5 * result.budget_seconds, (result.child_seconds, result.budget_seconds)


def test_the_budget_used_is_measured_by_the_parent_whatever_the_child_clock_says(learner):
    result = learner.call("spin_then_stop_the_clock", 1.0, busy_clock=True, timeout=30)
    assert result.budget_seconds >= 0.9, result.budget_seconds   # 1 s spent, not the 0.1 it claims


def test_without_the_busy_clock_a_call_runs_on_wall_time(learner):
    result = learner.call("spin_for", 0.3, timeout=30)
    assert result.budget_seconds is None and result.child_seconds >= 0.3
