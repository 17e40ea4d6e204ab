"""Speed checks: the parent's clock, fresh inputs each repetition, learner and reference interleaved.

Both sides run in sandboxed children with the same thread count and the same
round trip, so the ratio compares like with like. Every learner output timed is
also verified against the reference's output on the same inputs, so caching or
skipping work cannot buy speed; and the learner's processes are stopped while the
reference runs, so work left running in the background cannot slow the reference.
The CPU time the learner's processes spend in the timed calls is measured too: code
that buys speed with more cores than the reference gets (torch.set_num_threads,
its own threads or processes) fails instead of showing a flattering ratio.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from grader.compare import assert_close, assert_grads_close, as_tensor
from grader.i18n import t
from grader.sandbox import ChildTimeout


@dataclass
class SpeedResult:
    learner_s: float
    reference_s: float
    reps: int

    @property
    def ratio(self) -> float:
        return self.learner_s / self.reference_s

    def describe(self) -> str:
        return t("speed_described", ratio=f"{self.ratio:.2f}", mine_ms=f"{self.learner_s * 1e3:.1f}",
                 reference_ms=f"{self.reference_s * 1e3:.1f}", reps=self.reps)


def compare_at_each(settings, label, time_one) -> str:
    """Run time_one(setting) -> SpeedResult for each setting; the first too slow fails.

    One shape rarely shows every slow way to write a function (a loop over one dimension is
    cheap where that dimension is short), so a speed check may time several. The message
    names each setting by label(setting), the timings before a failure included."""
    timed = []
    for setting in settings:
        try:
            timed.append(f"{label(setting)}: {time_one(setting).describe()}")
        except AssertionError as exc:
            raise AssertionError("; ".join(timed + [f"{label(setting)}: {exc}"])) from None
    return "; ".join(timed)


class WithFreshTensor:
    """A learner view whose calls get one keyword argument as a tensor kept in its child, by handle.

    Each call's tensor is new, made by make_tensor(tensor_seed) from the seed that leads the
    call's arguments, and crosses to the child just before the timed call, outside it. With
    one tensor for every repetition, work on it (sorting a similarity's rows, normalizing a
    queue in a Python loop) could be done once, in the untimed warm-up, and cached. The
    learner and the reference get the same tensor for the same seed, so make_tensor must be
    deterministic in it; caching it (functools.lru_cache) saves drawing it twice. arg_names
    turns the remaining positional arguments into keywords, for a target whose handled
    argument comes first."""

    def __init__(self, learner, keyword: str, make_tensor, arg_names: tuple[str, ...] = ()):
        self.learner, self.keyword, self.make_tensor, self.arg_names = learner, keyword, make_tensor, arg_names

    def __getattr__(self, name):   # everything but call (paused, release, ...) is the learner's own
        if name in ("learner", "keyword", "make_tensor", "arg_names"):
            raise AttributeError(name)
        return getattr(self.learner, name)

    def call(self, target, tensor_seed, *args, **kwargs):
        if self.arg_names:
            kwargs = {**dict(zip(self.arg_names, args, strict=True)), **kwargs}
            args = ()
        handle = self.learner.put(self.make_tensor(tensor_seed), timeout=60)
        try:
            return self.learner.call(target, *args, handle_kwargs={self.keyword: handle}, **kwargs)
        finally:
            self.learner.release(handle)


def verify_loss_call(mine, theirs, dtype, names=("z1", "z2")):
    assert_close(mine.output, as_tensor(theirs.output, "reference output"), "output", dtype)
    if isinstance(theirs.grads, list):
        assert_grads_close(mine.grads, theirs.grads, names, dtype)


# /proc counts CPU time in clock ticks (10 ms): below this much timed wall time the
# cores-used estimate is too coarse to judge.
MIN_WALL_FOR_CORES_S = 0.1
CORES_SLACK = 0.25   # a single-threaded call measures 0.95 - 1.0 cores here (round trip included)


def _check_cores(wall_times, cpu_times, threads):
    if not threads or any(c is None for c in cpu_times):
        return
    wall, cpu = sum(wall_times), sum(cpu_times)
    if wall >= MIN_WALL_FOR_CORES_S and cpu > wall * (threads + CORES_SLACK):
        raise AssertionError(t("too_many_cores", cores=f"{cpu / wall:.1f}", threads=threads))


# When every repetition so far (min_reps at least) had the learner at or below this fraction of
# the limit, the repetitions left cannot bring the median near it: they are skipped. Each
# repetition, not the medians: with two, a median is a mean, and one cold first call (the
# reference's, say, building what it needs) would hide a slow learner. Anything closer to the
# limit, or above it, gets every repetition before the verdict.
CLEAR_PASS_FRACTION = 0.5


def _clearly_fast(mine_times, ref_times, max_ratio) -> bool:
    return all(mine <= CLEAR_PASS_FRACTION * max_ratio * ref for mine, ref in zip(mine_times, ref_times))


def compare_speed(learner, reference_child, target, make_args, *, verify, grad=True, kwargs=None,
                  reps=5, min_reps=2, max_ratio=3.0, min_timeout=5.0) -> SpeedResult:
    """Median time of target(*make_args(rep)) for learner vs reference; AssertionError if too slow.

    reps repetitions, or min_reps when the learner is by then clearly within the limit. On the
    CPU there is no untimed warm-up call: each side's first call, cold, is one of the
    repetitions (a near or failing verdict rests on the median of all of them), and every
    call's output is verified, so a warm-up would only cost time."""
    kwargs = kwargs or {}
    limit = None   # the learner's timeout, from the reference's first call

    def reference_call(args):
        # The learner's processes are stopped meanwhile: nothing it left running competes for the CPU.
        with learner.paused():
            return reference_child.call(target, *args, grad=grad, **kwargs)

    def learner_call(args, reference_s):
        try:
            return learner.call(target, *args, grad=grad, timeout=limit, allow_slow=True, measure_cpu=True,
                                **kwargs)
        except ChildTimeout:
            raise AssertionError(t("too_slow_timeout", limit=f"{limit:.1f}", reference_ms=f"{reference_s * 1e3:.0f}",
                                   ratio=f"{max_ratio:g}")) from None

    if str(getattr(reference_child, "device", "cpu")).startswith("cuda"):
        # On a GPU a process's first call also pays for the CUDA context and the kernels' loading,
        # far beyond a CPU's cold call (and the reference's child has made none yet): one untimed
        # call each side first, so that the medians of an early stop are warm ones.
        warm = make_args(0)
        first = reference_call(warm)
        limit = max(min_timeout, first.seconds * max_ratio * 10)
        verify(learner_call(warm, first.seconds), first)

    mine_times, ref_times, mine_cpu = [], [], []
    for rep in range(1, reps + 1):
        args = make_args(rep)
        if rep % 2:   # the reference goes first in the first repetition: its time sets the limit
            theirs = reference_call(args)
            limit = limit or max(min_timeout, theirs.seconds * max_ratio * 10)
            mine = learner_call(args, theirs.seconds)
        else:
            mine = learner_call(args, ref_times[0])
            theirs = reference_call(args)
        verify(mine, theirs)
        mine_times.append(mine.seconds)
        ref_times.append(theirs.seconds)
        mine_cpu.append(mine.cpu_seconds)
        if min_reps <= rep < reps and _clearly_fast(mine_times, ref_times, max_ratio):
            break
    _check_cores(mine_times, mine_cpu, getattr(learner, "threads", None))
    result = SpeedResult(statistics.median(mine_times), statistics.median(ref_times), len(mine_times))
    if result.ratio > max_ratio:
        raise AssertionError(t("too_slow", described=result.describe(), limit=f"{max_ratio:g}"))
    return result
