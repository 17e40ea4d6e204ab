"""Children forked by a zygote (grader.sandbox.WarmChildren) behave as children started anew:
the same setup, output, crash reports and limits, nothing of the zygote's or a sibling's
descriptors, and a grading that survives a submission killing the zygote."""

from __future__ import annotations

import os

import pytest

from grader import sandbox
from grader.sandbox import ChildCrashed, ChildProcess, Learner

SUBMISSION = '''
import os
import signal


def describe():
    print("hello from the child")
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    return {"pid": os.getpid(), "sid": os.getsid(0), "cwd": os.getcwd(), "fds": fds,
            "omp": os.environ.get("OMP_NUM_THREADS"), "ppid": os.getppid()}


def exit_with(code):
    os._exit(code)


def kill_parent():
    os.kill(os.getppid(), signal.SIGKILL)
    return os.getppid()
'''


@pytest.fixture
def warm(monkeypatch):
    pool = sandbox.WarmChildren()
    pool.enabled = True
    monkeypatch.setattr(sandbox, "WARM", pool)
    yield pool
    pool.close()


@pytest.fixture
def submission(tmp_path):
    path = tmp_path / "submission.py"
    path.write_text(SUBMISSION)
    return path


def _started(path):
    child = ChildProcess(path, threads=1)
    assert child.start().ok
    return child


def test_the_second_child_is_forked_and_sees_only_its_own_pipes(warm, submission):
    first = _started(submission)            # started anew; the zygote starts meanwhile
    assert not isinstance(first.proc, sandbox._ForkedProcess)
    first.close()
    child = _started(submission)
    try:
        assert isinstance(child.proc, sandbox._ForkedProcess)
        got = Learner(child, "cpu").call("describe").output
        assert got["pid"] == got["sid"] == child.proc.pid          # a session of its own
        assert got["cwd"] == str(submission.parent)
        assert got["omp"] == "1"
        assert len(got["fds"]) <= 6, got["fds"]   # 0-2 and the two pipes (and listdir's own)
    finally:
        child.close()
    assert "hello from the child" in child.output.decode()


@pytest.mark.parametrize("code, words", [(3, "exited with code 3"), (-9, "killed by SIGKILL")])
def test_a_forked_child_that_dies_is_reported_as_a_spawned_one_is(warm, submission, code, words):
    _started(submission).close()
    child = _started(submission)
    learner = Learner(child, "cpu")
    try:
        with pytest.raises(ChildCrashed, match=words):
            if code > 0:
                learner.call("exit_with", code)
            else:
                os.kill(child.proc.pid, 9)
                learner.call("describe")
    finally:
        child.close()


def test_a_submission_that_kills_the_zygote_is_graded_and_the_next_child_starts(warm, submission):
    _started(submission).close()
    child = _started(submission)
    (zygote,) = warm._zygotes.values()
    assert Learner(child, "cpu").call("kill_parent").output == zygote.proc.pid
    assert Learner(child, "cpu").call("describe").output["pid"] == child.proc.pid   # it goes on
    child.close()
    assert zygote.proc.wait(timeout=10) == -9
    again = _started(submission)       # the dead zygote is noticed; this one is started anew
    assert not isinstance(again.proc, sandbox._ForkedProcess)
    again.close()
