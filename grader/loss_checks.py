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
    noise of a normalization. none_is_zero: a missing gradient where the reference's is all
    zeros counts as that zero (a loss may return a fresh 0 where no term counts).

    An exercise with two functions declares a Loss for each; a check that covers both takes
    the other's (loss, data) pairs in `also` and runs them after its own, in one check."""

    function: str
    names: Sequence[str]
    args_of: Callable[[object], Args]
    label_of: Callable[[object], str] = lambda case: ""
    wrt: Callable[[Args], list[int]] = _tensor_inputs
    noise: Callable[[Args], tuple[float, object]] = lambda args: (1.0, None)
    none_is_zero: bool = False

    # -- calling both sides --------------------------------------------------------------
    def call(self, learner, args: Args, device=None, **kw):
        return learner.call(self.function, *args, device=device, **kw)

    def expected(self, reference, args: Args) -> torch.Tensor:
        return getattr(reference, self.function)(*args)

    def reference_grads(self, reference, args: Args) -> list[torch.Tensor]:
        args, wrt = list(args), self.wrt(args)
        for i in wrt:
            args[i] = args[i].clone().requires_grad_(True)
        return list(torch.autograd.grad(self.expected(reference, args), [args[i] for i in wrt]))

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
            assert_close(mine.output, self.expected(reference, args), value_what, rtol=rtol, atol=atol)
        noise_scale, extra_atol = noise if noise is not None else self.noise(args)
        want, grads = self.reference_grads(reference, args), of_the_loss(mine.grads)
        if self.none_is_zero and not isinstance(grads, str):
            grads = [torch.zeros_like(w) if g is None and not w.any() else g for g, w in zip(grads, want)]
        assert_grads_close(grads, want, self._names(wrt), dtype, noise_scale=noise_scale, extra_atol=extra_atol)
        return mine

    # -- interface -------------------------------------------------------------------------
    def rejects(self, error: str, bad: Sequence[tuple[str, Args]], doc: str = ""):
        """A check that each (what, args) of bad raises error (a subclass counts)."""
        def check_rejects(learner):
            for what, args in bad:
                with learner_raises(error, what=what):
                    self.call(learner, args)
        check_rejects.__doc__ = doc or f"{self.function} raises {error} for invalid arguments."
        return check(CATEGORY["rejects"])(check_rejects)

    # -- correctness -------------------------------------------------------------------------
    def worked_example(self, examples_: Sequence[tuple[str, Args, float]], *, rtol=1e-7, atol=1e-8, also=()):
        """A check that each of the spec's worked examples (what, args, value) gives its value."""
        def check_worked_example_from_spec(learner):
            for loss, examples_of_loss in [(self, examples_), *also]:
                for what, args, value in examples_of_loss:
                    dtype = args[loss.wrt(args)[0]].dtype
                    got = loss.call(learner, args).output
                    assert_scalar_like(got, dtype, "cpu", what=what)
                    assert_close(got, torch.tensor(value, dtype=dtype), what, rtol=rtol, atol=atol)
        check_worked_example_from_spec.__doc__ = "The spec's worked examples give the values it states."
        return check(CATEGORY["worked_example"])(check_worked_example_from_spec)

    def matches_reference(self, strategy, *, examples_n: int = 25, what: str = "loss"):
        """check_matches_reference: values, dtype, device and 0-dim on drawn cases."""
        @check(CATEGORY["matches_reference"])
        @examples(examples_n)
        @given(case=strategy)
        def check_matches_reference(learner, reference, device, case):
            """The loss equals the reference's on random inputs, float32 and float64."""
            args = self.args_of(case)
            dtype = case.torch_dtype
            got = self.call(learner, args, device).output
            assert_scalar_like(got, dtype, device)
            assert_close(got, self.expected(reference, args), what + self.label_of(case), dtype)
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

    def gradcheck_float64(self, arg_sets: Sequence[Args], *, also=()):
        def check_gradcheck_float64(learner):
            """The gradients equal central finite differences of the learner's own loss (float64)."""
            for loss, arg_sets_of_loss in [(self, arg_sets), *also]:
                for args in arg_sets_of_loss:
                    wrt = loss.wrt(args)
                    finite_difference_check(learner, loss.function, list(args), wrt, loss._names(wrt))
        return check(CATEGORY["gradcheck_float64"])(check_gradcheck_float64)

    # -- hygiene --------------------------------------------------------------------------------
    def inputs_not_modified(self, labelled: Sequence[tuple[str, Args]], *, also=()):
        def check_inputs_not_modified(learner, device):
            """No input tensor is changed in place."""
            for loss, labelled_of_loss in [(self, labelled), *also]:
                for label, args in labelled_of_loss:
                    result = loss.call(learner, args, device, return_inputs=True)
                    for i in _tensor_inputs(args):
                        if not torch.equal(result.inputs_after[i].tensor, args[i]):
                            raise AssertionError(f"{loss.names[i]} was modified in place by {loss.function}{label}; "
                                                 "the spec forbids it")
        return check(CATEGORY["inputs_not_modified"])(check_inputs_not_modified)

    def dtype_device_and_0dim(self, labelled: Callable[[torch.dtype], Sequence[tuple[str, Args]]], *, also=()):
        def check_dtype_device_and_0dim(learner, device):
            """The loss is a 0-dim tensor with the inputs' dtype, on their device."""
            for dtype in (torch.float32, torch.float64):
                for loss, labelled_of_loss in [(self, labelled), *also]:
                    for label, args in labelled_of_loss(dtype):
                        assert_scalar_like(loss.call(learner, args, device).output, dtype, device,
                                           what="output" + label)
        return check(CATEGORY["dtype_device_and_0dim"])(check_dtype_device_and_0dim)

    def output_keeps_autograd_graph(self, labelled: Sequence[tuple[str, Args]], *, also=()):
        def check_output_keeps_autograd_graph(learner, device):
            """The loss can be backpropagated to every input that needs a gradient."""
            for loss, labelled_of_loss in [(self, labelled), *also]:
                for label, args in labelled_of_loss:
                    wrt = loss.wrt(args)
                    grads = loss.call(learner, args, device, grad=wrt).grads
                    if isinstance(grads, str) or any(g is None for g in grads):
                        raise AssertionError(f"the loss must be differentiable w.r.t. "
                                             f"{' and '.join(loss._names(wrt))}{label}: {grads}")
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
