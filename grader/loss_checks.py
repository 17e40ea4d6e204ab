"""The checks every loss exercise shares, made from one declaration (as Tensor-Puzzles' make_test).

A loss exercise declares what is particular to it in a `Loss`: the function's name, its
arguments, which of them get gradients, how a drawn case becomes arguments, and how much
rounding noise its gradients carry. Each common check is then one line of its checks module,
placed where it should run:

    LOSS = Loss("nt_xent", names=("z1", "z2", "temperature"), args_of=lambda c: [*c.tensors(), c.temperature])
    check_matches_reference = LOSS.matches_reference(cases(), examples=25)

and the module writes by hand only the checks that are its own. The generated checks keep
the names, categories, messages and verdicts of the hand-written ones they replace.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from hypothesis import given

from grader.api import check, examples, learner_raises
from grader.compare import assert_close, assert_grads_close, assert_scalar_like
from grader.gradcheck import finite_difference_check, of_the_loss, upstream
from grader.static import FACTORY_CATEGORIES as CATEGORY
from grader.timing import compare_at_each, compare_speed, verify_loss_call

Args = list   # a loss's positional arguments: tensors, None, numbers, strings
DTYPES = (torch.float32, torch.float64)


def _tensor_inputs(args: Args) -> list[int]:
    return [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]


@dataclass(frozen=True)
class Loss:
    """What a loss exercise declares; its methods make the common checks from it.

    function: the learner's function. names: its positional arguments' names, for messages.
    args_of: a drawn case -> positional arguments. label_of: a case -> words added to the
    messages (" (paired)"), or "". wrt: arguments -> the positions that get gradients (by
    default every tensor argument). noise: arguments -> (noise_scale, extra_atol) for the
    gradient comparison (compare.assert_grads_close), e.g. 1/temperature and the rounding
    noise of a normalization. tolerance: arguments -> (rtol, atol) for the loss's value (None:
    compare's by dtype), e.g. an atol that grows with the sum's largest terms. reference_dtype:
    where set, the reference runs on copies of the tensor arguments in this dtype and its value
    and gradients are cast back (float64: what differs from the reference is then the
    learner's rounding alone). none_is_zero: a missing gradient where the reference's is all
    zeros counts as that zero (a loss may return a fresh 0 where no term counts).

    An exercise with several functions declares a Loss for each; a common check that covers
    several of them is made by Losses."""

    function: str
    names: Sequence[str]
    args_of: Callable[[object], Args]
    label_of: Callable[[object], str] = lambda case: ""
    wrt: Callable[[Args], list[int]] = _tensor_inputs
    noise: Callable[[Args], tuple[float, object]] = lambda args: (1.0, None)
    tolerance: Callable[[Args], tuple[float | None, object]] = lambda args: (None, None)
    reference_dtype: torch.dtype | None = None
    none_is_zero: bool = False

    # -- calling both sides --------------------------------------------------------------
    def call(self, learner, args: Args, device=None, **kw):
        return learner.call(self.function, *args, device=device, **kw)

    def _for_reference(self, args: Args) -> Args:
        if self.reference_dtype is None:
            return list(args)
        return [a.detach().to(self.reference_dtype) if isinstance(a, torch.Tensor) else a for a in args]

    def expected(self, reference, args: Args) -> torch.Tensor:
        value = getattr(reference, self.function)(*self._for_reference(args))
        return value if self.reference_dtype is None else value.to(args[_tensor_inputs(args)[0]].dtype)

    def reference_grads(self, reference, args: Args) -> list[torch.Tensor]:
        theirs, wrt = self._for_reference(args), self.wrt(args)
        for i in wrt:
            theirs[i] = theirs[i].clone().requires_grad_(True)
        grads = torch.autograd.grad(getattr(reference, self.function)(*theirs), [theirs[i] for i in wrt])
        return [g.to(args[i].dtype) for g, i in zip(grads, wrt)]

    def _names(self, positions) -> list[str]:
        return [self.names[i] for i in positions]

    def assert_grads_match(self, learner, reference, args: Args, device=None, dtype=None, *, value_what=None,
                           rtol=None, atol=None, noise=None):
        """The learner's gradients (of UPSTREAM * loss, divided back) against the reference's;
        with value_what, the loss's value first (named so in the message, to rtol and atol).
        noise: (noise_scale, extra_atol) where this input's rounding noise differs from the
        declaration's."""
        wrt = self.wrt(args)
        dtype = dtype or args[wrt[0]].dtype
        mine = self.call(learner, args, device, grad=wrt, grad_output=upstream(dtype))
        if value_what is not None:
            if rtol is None and atol is None:
                rtol, atol = self.tolerance(args)
            assert_close(mine.output, self.expected(reference, args), value_what, rtol=rtol, atol=atol)
        noise_scale, extra_atol = noise if noise is not None else self.noise(args)
        want, grads = self.reference_grads(reference, args), of_the_loss(mine.grads)
        if self.none_is_zero and not isinstance(grads, str):
            grads = [torch.zeros_like(w) if g is None and not w.any() else g for g, w in zip(grads, want)]
        assert_grads_close(grads, want, self._names(wrt), dtype, noise_scale=noise_scale, extra_atol=extra_atol)
        return mine

    # -- interface -------------------------------------------------------------------------
    def rejects(self, error: str, bad: Sequence[tuple], doc: str = ""):
        """A check that each (what, args) or (what, args, kwargs) of bad raises error (a subclass
        counts); kwargs, keyword arguments, test the spec's parameter names too."""
        def check_rejects(learner):
            for what, args, *kwargs in bad:
                with learner_raises(error, what=what):
                    self.call(learner, args, **(kwargs[0] if kwargs else {}))
        check_rejects.__doc__ = doc or f"{self.function} raises {error} for invalid arguments."
        return check(CATEGORY["rejects"])(check_rejects)

    # -- correctness -------------------------------------------------------------------------
    def worked_example(self, examples_: Sequence[tuple[str, Args, float]], *, rtol=1e-7, atol=1e-8):
        """A check that each of the spec's worked examples (what, args, value) gives its value."""
        def check_worked_example_from_spec(learner):
            for what, args, value in examples_:
                dtype = args[self.wrt(args)[0]].dtype
                got = self.call(learner, args).output
                assert_scalar_like(got, dtype, "cpu", what=what)
                assert_close(got, torch.tensor(value, dtype=dtype), what, rtol=rtol, atol=atol)
        check_worked_example_from_spec.__doc__ = "The spec's worked examples give the values it states."
        return check(CATEGORY["worked_example"])(check_worked_example_from_spec)

    def matches_reference(self, strategy, *, examples_n: int = 25, what: str = "loss"):
        """check_matches_reference: values, dtype, device and 0-dim on drawn cases, to the
        declaration's tolerance."""
        @check(CATEGORY["matches_reference"])
        @examples(examples_n)
        @given(case=strategy)
        def check_matches_reference(learner, reference, device, case):
            """The loss equals the reference's on random inputs, float32 and float64."""
            args = self.args_of(case)
            dtype = case.torch_dtype
            got = self.call(learner, args, device).output
            assert_scalar_like(got, dtype, device)
            rtol, atol = self.tolerance(args)
            assert_close(got, self.expected(reference, args), what + self.label_of(case), dtype, rtol=rtol, atol=atol)
        return check_matches_reference

    # -- gradients ----------------------------------------------------------------------------
    def gradients_match_reference(self, strategy, *, examples_n: int = 20):
        @check(CATEGORY["gradients_match_reference"])
        @examples(examples_n)
        @given(case=strategy)
        def check_gradients_match_reference(learner, reference, device, case):
            """The gradients with respect to every input equal the reference's."""
            self.assert_grads_match(learner, reference, self.args_of(case), device, case.torch_dtype)
        return check_gradients_match_reference

    def gradcheck_float64(self, arg_sets: Sequence[Args]):
        def check_gradcheck_float64(learner):
            """The gradients equal central finite differences of the learner's own loss (float64)."""
            for args in arg_sets:
                wrt = self.wrt(args)
                finite_difference_check(learner, self.function, list(args), wrt, self._names(wrt))
        return check(CATEGORY["gradcheck_float64"])(check_gradcheck_float64)

    # -- hygiene --------------------------------------------------------------------------------
    def inputs_not_modified(self, labelled: Sequence[tuple[str, Args]], *, grad: bool = False):
        """grad: ask for the gradients too (of wrt's positions), as a training step would."""
        def check_inputs_not_modified(learner, device):
            """No input tensor is changed in place."""
            for label, args in labelled:
                kw = {"grad": self.wrt(args)} if grad else {}
                result = self.call(learner, args, device, return_inputs=True, **kw)
                for i in _tensor_inputs(args):
                    if not torch.equal(result.inputs_after[i].tensor, args[i]):
                        raise AssertionError(f"{self.names[i]} was modified in place by {self.function}{label}; "
                                             "the spec forbids it")
        return check(CATEGORY["inputs_not_modified"])(check_inputs_not_modified)

    def dtype_device_and_0dim(self, labelled: Callable[[torch.dtype], Sequence[tuple[str, Args]]], *,
                              dtypes: Sequence[torch.dtype] = DTYPES):
        def check_dtype_device_and_0dim(learner, device):
            """The loss is a 0-dim tensor with the inputs' dtype, on their device."""
            for dtype in dtypes:
                for label, args in labelled(dtype):
                    assert_scalar_like(self.call(learner, args, device).output, dtype, device, what="output" + label)
        return check(CATEGORY["dtype_device_and_0dim"])(check_dtype_device_and_0dim)

    def output_keeps_autograd_graph(self, labelled: Sequence[tuple[str, Args]], *,
                                    wrt: Callable[[Args], list[int]] | None = None):
        """wrt: the positions asked for where they are fewer than the declaration's (a parameter
        whose missing gradient another check reports)."""
        def check_output_keeps_autograd_graph(learner, device):
            """The loss can be backpropagated to every input that needs a gradient."""
            for label, args in labelled:
                asked = (wrt or self.wrt)(args)
                grads = self.call(learner, args, device, grad=asked).grads
                if isinstance(grads, str) or any(g is None for g in grads):
                    raise AssertionError(f"the loss must be differentiable w.r.t. "
                                         f"{' and '.join(self._names(asked))}{label}: {grads}")
        return check(CATEGORY["output_keeps_autograd_graph"])(check_output_keeps_autograd_graph)

    # -- speed ------------------------------------------------------------------------------------
    def time_call(self, learner, reference_child, make_args, *, max_ratio: float, kwargs=None, grad=None,
                  reps: int | None = None):
        """One timing (timing.compare_speed), every timed output verified against the reference's;
        reps: the repetitions whose median counts (None: compare_speed's own default)."""
        wrt = grad if grad is not None else self.wrt(make_args(0))
        names = self._names(wrt)
        return compare_speed(learner, reference_child, self.function, make_args, grad=wrt, kwargs=kwargs,
                             verify=lambda mine, theirs: verify_loss_call(mine, theirs, torch.float32, names),
                             max_ratio=max_ratio, **({} if reps is None else {"reps": reps}))

    def speed_vs_reference(self, settings, describe: Callable[[object], str],
                           make_args: Callable[[object, int], Args] | None = None, *, max_ratio: float = 3.0,
                           time_one: Callable | None = None, reps: int | None = None):
        """check_speed_vs_reference at each setting (timing.compare_at_each): make_args(setting,
        rep_seed) gives the timed arguments; or time_one(learner, reference_child, device,
        seed, setting) times one setting its own way. reps: as in time_call, for make_args."""
        def default_time_one(learner, reference_child, device, seed, setting):
            return self.time_call(learner.on(device), reference_child.on(device),
                                  lambda rep: make_args(setting, seed * 1000 + rep), max_ratio=max_ratio, reps=reps)

        timer = time_one or default_time_one

        def check_speed_vs_reference(learner, reference_child, device, seed, record_property):
            record_property("message", compare_at_each(
                settings, describe, lambda setting: timer(learner, reference_child, device, seed, setting)))
        check_speed_vs_reference.__doc__ = f"Not more than {max_ratio:g}x slower than the reference, at each size timed."
        return check(CATEGORY["speed_vs_reference"])(check_speed_vs_reference)


@dataclass(frozen=True)
class Losses:
    """The Loss declarations of an exercise with several functions, for the common checks that
    try each function in one check (one name in the report, one verdict for the catalogue).

    Each method takes what the Loss method of its name takes, given as a function of the
    member Loss, and keywords for every member's; the check runs the members' in turn."""

    members: tuple[Loss, ...]

    def _joined(self, method: str, args_of: Callable[[Loss], tuple], **kw):
        return self._in_turn(method, [getattr(loss, method)(*args_of(loss), **kw) for loss in self.members])

    @staticmethod
    def _in_turn(method: str, parts: Sequence[Callable]):
        def joined(*args, **kwargs):
            for part in parts:
                part(*args, **kwargs)
        joined.__signature__ = inspect.signature(parts[0])   # the fixtures pytest passes
        joined.__doc__ = parts[0].__doc__
        return check(CATEGORY[method])(joined)

    def rejects(self, error: str, bad_of: Callable[[Loss], Sequence[tuple[str, Args]]], doc: str = ""):
        return self._joined("rejects", lambda loss: (error, bad_of(loss), doc))

    def worked_example(self, examples_of: Callable[[Loss], Sequence[tuple[str, Args, float]]], **kw):
        return self._joined("worked_example", lambda loss: (examples_of(loss),), **kw)

    def gradcheck_float64(self, arg_sets_of: Callable[[Loss], Sequence[Args]]):
        return self._joined("gradcheck_float64", lambda loss: (arg_sets_of(loss),))

    def inputs_not_modified(self, labelled_of: Callable[[Loss], Sequence[tuple[str, Args]]], **kw):
        return self._joined("inputs_not_modified", lambda loss: (labelled_of(loss),), **kw)

    def dtype_device_and_0dim(self, labelled_of: Callable[[Loss, torch.dtype], Sequence[tuple[str, Args]]], *,
                              dtype_first: bool = False):
        """dtype_first: every member at float32, then every member at float64, so that a float32
        failure of any member is the one reported (by default each member at both in turn)."""
        if not dtype_first:
            return self._joined("dtype_device_and_0dim", lambda loss: (lambda dtype: labelled_of(loss, dtype),))
        return self._in_turn("dtype_device_and_0dim", [
            loss.dtype_device_and_0dim(lambda dtype, loss=loss: labelled_of(loss, dtype), dtypes=(dtype,))
            for dtype in DTYPES for loss in self.members])

    def output_keeps_autograd_graph(self, labelled_of: Callable[[Loss], Sequence[tuple[str, Args]]], **kw):
        return self._joined("output_keeps_autograd_graph", lambda loss: (labelled_of(loss),), **kw)

    def speed_vs_reference(self, settings, describe: Callable[[Loss, object], str],
                           make_args: Callable[[Loss, object, int], Args], *, max_ratio: float = 3.0):
        """One speed check timing each member at each setting, all in one message (one
        compare_at_each): make_args(loss, setting, rep_seed) gives the timed arguments."""
        def time_one(learner, reference_child, device, seed, timed):
            loss, setting = timed
            return loss.time_call(learner.on(device), reference_child.on(device),
                                  lambda rep: make_args(loss, setting, seed * 1000 + rep), max_ratio=max_ratio)

        return self.members[0].speed_vs_reference([(loss, setting) for loss in self.members for setting in settings],
                                                  lambda timed: describe(*timed), max_ratio=max_ratio,
                                                  time_one=time_one)
