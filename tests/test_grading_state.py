"""Per-grading state: api.once and a checks module's state live in the grading's context, so
gradings that overlap in one process (watch, mock, dev check) keep theirs apart."""

import pytest

from grader import api
from grader.sandbox import NotRun


def context():
    return api.GradeContext("contrastive_mnist", "cpu", 0)


def test_once_computes_once_per_grading_and_gives_every_caller_the_value():
    calls = []
    first, second = context(), context()
    assert api.once(first, "train", lambda: calls.append(1) or "trained") == "trained"
    assert api.once(first, "train", lambda: calls.append(1) or "again") == "trained"
    assert api.once(second, "train", lambda: calls.append(1) or "other") == "other"
    assert len(calls) == 2
    assert api.once_outcome(first, "train") == ("trained", None) and api.once_outcome(first, "probe") is None


def test_a_failed_stage_raises_for_its_first_caller_and_is_not_run_for_the_next():
    ctx = context()

    def broken():
        raise AssertionError("the encoder returned nan\nsecond line")

    with pytest.raises(AssertionError, match="returned nan"):
        api.once(ctx, "features", broken, label="computing the features")
    with pytest.raises(NotRun, match="computing the features failed in an earlier check: the encoder returned nan$"):
        api.once(ctx, "features", lambda: "never")


def test_contrastive_mnist_keeps_each_gradings_state_while_another_grading_runs():
    from grader.checks import contrastive_mnist as module

    first, second = context(), context()
    mine = module._state(first)
    mine.steps = 7
    theirs = module._state(second)
    assert theirs is not mine and module._state(first) is mine and module._state(first).steps == 7
