"""The speed checks' building blocks in grader/timing.py, on stand-in learners (no child process)."""

import functools

import pytest
import torch

from grader.timing import SpeedResult, WithFreshTensor, compare_at_each


class RecordingLearner:
    """Stands in for a Learner: remembers what was put, called and released."""

    def __init__(self, fail_calls=False):
        self.kept, self.calls, self.released, self.fail_calls = {}, [], [], fail_calls
        self.threads = 1

    def put(self, value, timeout=None):
        handle = f"h{len(self.kept)}"
        self.kept[handle] = value
        return handle

    def call(self, target, *args, handle_kwargs=None, **kwargs):
        self.calls.append((target, args, {k: self.kept[h] for k, h in handle_kwargs.items()}, kwargs))
        if self.fail_calls:
            raise RuntimeError("the learner raised")
        return "result"

    def release(self, handle):
        self.released.append(handle)


@functools.lru_cache(maxsize=2)
def seeded(seed):
    return torch.randn(3, generator=torch.Generator().manual_seed(seed))


def test_each_call_gets_a_new_tensor_and_both_sides_the_same_one_for_a_seed():
    mine, theirs = RecordingLearner(), RecordingLearner()
    for side in (mine, theirs):
        wrapped = WithFreshTensor(side, "negative_keys", seeded)
        for seed in (11, 12):
            assert wrapped.call("info_nce", seed, "q", "k", temperature=0.1) == "result"
    sent = [[c[2]["negative_keys"] for c in side.calls] for side in (mine, theirs)]
    assert not torch.equal(sent[0][0], sent[0][1])          # a new tensor every repetition
    assert all(torch.equal(a, b) for a, b in zip(sent[0], sent[1]))
    assert mine.calls[0][1] == ("q", "k") and mine.calls[0][3] == {"temperature": 0.1}
    assert mine.released == ["h0", "h1"]                    # nothing kept in the child after its call


def test_arg_names_turn_positional_arguments_into_keywords():
    side = RecordingLearner()
    WithFreshTensor(side, "similarity", seeded, arg_names=("anchor_labels", "num_negatives")).call(
        "hard_negatives", 5, "labels", 4)
    _, args, handled, kwargs = side.calls[0]
    assert args == () and kwargs == {"anchor_labels": "labels", "num_negatives": 4}
    assert set(handled) == {"similarity"}


def test_the_handle_is_released_when_the_call_raises_and_other_attributes_pass_through():
    side = RecordingLearner(fail_calls=True)
    wrapped = WithFreshTensor(side, "negative_keys", seeded)
    with pytest.raises(RuntimeError):
        wrapped.call("info_nce", 1)
    assert side.released == ["h0"]
    assert wrapped.threads == 1


def test_compare_at_each_stops_at_the_first_setting_too_slow_and_names_the_ones_before():
    timed = []

    def time_one(n):
        timed.append(n)
        if n == 256:
            raise AssertionError("too slow: 9.00x the reference")
        return SpeedResult(0.2, 0.1, 5)

    with pytest.raises(AssertionError) as failure:
        compare_at_each((2048, 256, 64), lambda n: f"N={n}", time_one)
    assert timed == [2048, 256]
    assert str(failure.value).startswith("N=2048: 2.00x the reference")
    assert "N=256: too slow: 9.00x" in str(failure.value)


def test_compare_at_each_reports_every_setting_when_all_are_fast_enough():
    message = compare_at_each((1, 2), lambda n: f"N={n}", lambda n: SpeedResult(0.1 * n, 0.1, 5))
    assert message.startswith("N=1: 1.00x") and "; N=2: 2.00x" in message


class TimedSide:
    """Stands in for a learner or the reference's child in compare_speed: each call takes
    `seconds` on the parent's clock (reported, not slept) and is counted."""

    def __init__(self, seconds, first=None):
        self.seconds, self.first, self.calls, self.threads = seconds, first, 0, 1

    def call(self, target, *args, **kwargs):
        self.calls += 1
        seconds = self.first if self.calls == 1 and self.first is not None else self.seconds
        return type("Timed", (), {"seconds": seconds, "cpu_seconds": None, "output": 0.0, "grads": None})()

    def paused(self):
        import contextlib
        return contextlib.nullcontext()


@pytest.mark.parametrize("mine_s, reps_run, passes", [
    (0.10, 2, True),    # as fast as the reference: clearly within 3x after 2 repetitions
    (0.15, 2, True),    # 1.5x: half the limit, still clear
    (0.20, 5, True),    # 2x: near enough the limit to get every repetition
    (0.40, 5, False),   # 4x: too slow, judged on every repetition
])
def test_a_clearly_fast_learner_is_timed_on_fewer_repetitions(mine_s, reps_run, passes):
    from grader.timing import compare_speed

    mine, reference = TimedSide(mine_s), TimedSide(0.10)
    run = functools.partial(compare_speed, mine, reference, "f", lambda rep: [rep], verify=lambda a, b: None,
                            reps=5, max_ratio=3.0)
    if passes:
        assert run().reps == reps_run
    else:
        with pytest.raises(AssertionError, match="median of 5"):
            run()
    assert mine.calls == reference.calls == reps_run    # no untimed warm-up call


def test_a_slow_first_reference_call_does_not_hide_a_slow_learner():
    # The reference's first call, cold, takes 0.6 s; afterwards 0.03 s. A learner at 0.15 s
    # (5x) looks fast against a mean of the first two, not against every repetition.
    from grader.timing import compare_speed

    mine, reference = TimedSide(0.15), TimedSide(0.03, first=0.6)
    with pytest.raises(AssertionError, match="median of 5"):
        compare_speed(mine, reference, "f", lambda rep: [rep], verify=lambda a, b: None, reps=5, max_ratio=3.0)


def test_on_a_gpu_each_side_makes_one_untimed_call_first():
    from grader.timing import compare_speed

    mine, reference = TimedSide(0.01), TimedSide(0.01, first=0.9)   # the reference's first CUDA call is cold
    mine.device = reference.device = "cuda"
    result = compare_speed(mine, reference, "f", lambda rep: [rep], verify=lambda a, b: None, reps=5, max_ratio=3.0)
    assert result.reps == 2 and result.reference_s == pytest.approx(0.01)   # the cold call is not in the median
    assert mine.calls == reference.calls == 3
