"""Hidden checks for moco_step(encoder_q, encoder_k, queue, ptr, x_q, x_k, momentum, temperature).

The encoders are small MLPs the grader describes in plain data (grader.strategies.MlpCase);
the child builds them (Learner.build_module) and the submission gets them as modules. After
the call the grader reads back their parameters, .grad and buffers (Learner.module_state),
the queue as the call left it, and compares everything with the reference run here on
identical copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.api import LearnerRaised, as_tensor, assert_close, assert_scalar_like, check, examples, learner_raises
from grader.compare import assert_grads_close
from grader.gradcheck import UPSTREAM, upstream
from grader.strategies import FLOAT_DTYPES, MlpCase, module_description, seeds
from grader.timing import compare_speed

CATEGORY_DEPENDS = {category: ("matches_reference",)
                    for category in ("gradients", "properties", "stability", "speed")}
# Momenta of the value checks: never 0.5 (a reversed update is the same there) nor 1 (no update).
MOMENTA = st.one_of(st.sampled_from([0.0, 0.9, 0.99, 0.999]),
                    st.floats(0.0, 0.95).filter(lambda m: abs(m - 0.5) > 0.05))
TEMPERATURES = st.sampled_from([0.07, 0.2, 0.5, 1.0])
# MoCo's default queue (65,536 keys of 128 dimensions) with a batch of 64 keys: a Python loop over
# the queries (one pass over the queue each) measured 9.3x the reference here (spec: Complexity).
SPEED_K, SPEED_D, SPEED_B, SPEED_IN, SPEED_LIMIT = 65536, 128, 64, 64, 3.0


@dataclass(frozen=True)
class MocoCase:
    """Two encoders of one architecture (different weights), a (K, D) queue of unit rows, a
    batch of b inputs in two views, the pointer and the hyperparameters."""

    sizes: tuple
    activation: str
    batchnorm: bool
    dtype: str
    b: int
    k: int
    ptr: int
    momentum: float
    temperature: float
    seed: int

    @property
    def torch_dtype(self):
        return FLOAT_DTYPES[self.dtype]

    def encoder(self, which: int) -> MlpCase:
        return MlpCase(self.sizes, self.activation, self.batchnorm, self.dtype, self.seed + which)

    def tensors(self):
        """[queue (K, D) of unit rows, x_q (B, in), x_k (B, in)]."""
        gen = torch.Generator().manual_seed(self.seed)
        queue = torch.randn(self.k, self.sizes[-1], generator=gen, dtype=torch.float64)
        queue = torch.nn.functional.normalize(queue, dim=1)                       # (K, D) unit rows
        x_q = torch.randn(self.b, self.sizes[0], generator=gen, dtype=torch.float64)
        x_k = x_q + 0.3 * torch.randn(self.b, self.sizes[0], generator=gen, dtype=torch.float64)
        return [t.to(self.torch_dtype) for t in (queue, x_q, x_k)]


@st.composite
def moco_cases(draw, dtype=st.sampled_from(["float32", "float64"])):
    sizes = tuple(draw(st.lists(st.integers(1, 6), min_size=2, max_size=3)))
    batchnorm = len(sizes) > 2 and draw(st.booleans())
    b = draw(st.integers(2 if batchnorm else 1, 6))
    k = draw(st.integers(b, 12))
    return MocoCase(sizes, draw(st.sampled_from(["tanh", "relu"])), batchnorm, draw(dtype), b, k,
                    draw(st.integers(0, k - 1)), draw(MOMENTA), draw(TEMPERATURES), draw(seeds))


@dataclass
class Step:
    loss: object
    new_ptr: object
    queue: object          # the queue after the call (a Received)
    inputs: list           # x_q, x_k after the call
    state_q: dict
    state_k: dict
    backward: object = None


def reference_step(reference, case: MocoCase, backward=False, **hyper):
    encoder_q, encoder_k = case.encoder(0).module(), case.encoder(1).module()
    queue, x_q, x_k = case.tensors()
    loss, new_ptr = reference.moco_step(encoder_q, encoder_k, queue, case.ptr, x_q, x_k,
                                        **(hyper or {"momentum": case.momentum, "temperature": case.temperature}))
    if backward:
        loss.backward()
    return loss.detach(), new_ptr, queue, encoder_q, encoder_k


def learner_step(learner, case: MocoCase, backward=False, device=None) -> Step:
    built = [learner.build_module(module_description(case.encoder(i).module()), label=case.encoder(i).label
                                  + (" encoder_q" if i == 0 else " encoder_k"), device=device) for i in (0, 1)]
    queue, x_q, x_k = case.tensors()
    try:
        extra = {"backward": 0, "grad_output": upstream(case.torch_dtype)} if backward else {}
        result = learner.call("moco_step", built[0], built[1], queue, case.ptr, x_q, x_k, case.momentum,
                              case.temperature, return_inputs=True, device=device, **extra)
        loss, new_ptr = _unpack(result.output)
        return Step(loss, new_ptr, result.inputs_after[2], result.inputs_after[4:6],
                    learner.module_state(built[0]), learner.module_state(built[1]), result.grads)
    finally:
        for handle in built:
            learner.release(handle)


def _unpack(output):
    if not (isinstance(output, list) and len(output) == 2):
        kind = getattr(output, "type", type(output).__name__)
        raise AssertionError(f"moco_step must return a pair (loss, new_ptr), got {kind}"
                             f"{f' of {len(output)} items' if isinstance(output, list) else ''}")
    return output


def _ptr_value(new_ptr) -> int:
    if isinstance(new_ptr, bool) or not isinstance(new_ptr, int):
        t = as_tensor(new_ptr, "new_ptr")
        if t.numel() != 1 or t.is_floating_point():
            raise AssertionError(f"new_ptr: expected an int, got a tensor of shape {tuple(t.shape)} and {t.dtype}")
        return int(t.item())
    return new_ptr


def _assert_state(got: dict, module, what: str, dtype, kinds=("parameters", "buffers")):
    for kind in kinds:
        want = dict(module.named_parameters()) if kind == "parameters" else dict(module.named_buffers())
        for name, value in want.items():
            if name not in got[kind]:
                raise AssertionError(f"{what}: no {kind[:-1]} named {name} after the call")
            assert_close(got[kind][name], value.detach(), f"{what} {kind[:-1]} {name} after the step", dtype)


# -- interface ----------------------------------------------------------------
_SMALL = MocoCase((3, 2), "tanh", False, "float32", 2, 5, 0, 0.9, 0.2, 1)


def _call_with(learner, case=_SMALL, ptr=None, x_k=None, queue=None, **hyper):
    built = [learner.build_module(module_description(case.encoder(i).module()), label=case.encoder(i).label)
             for i in (0, 1)]
    q, x_q, xk = case.tensors()
    try:
        return learner.call("moco_step", built[0], built[1], q if queue is None else queue,
                            case.ptr if ptr is None else ptr, x_q, xk if x_k is None else x_k,
                            hyper.get("momentum", case.momentum), hyper.get("temperature", case.temperature))
    finally:
        for handle in built:
            learner.release(handle)


@check("interface")
def check_rejects_bad_hyperparameters(learner):
    for momentum in (-0.1, 1.5, float("nan")):
        with learner_raises("ValueError", what=f"momentum={momentum}"):
            _call_with(learner, momentum=momentum)
    for temperature in (0.0, -0.5, float("nan")):
        with learner_raises("ValueError", what=f"temperature={temperature}"):
            _call_with(learner, temperature=temperature)


@check("interface")
def check_rejects_bad_queue_pointer_and_batch(learner):
    with learner_raises("ValueError", what="a batch of 2 keys with a queue of 1 row"):
        _call_with(learner, queue=torch.nn.functional.normalize(torch.randn(1, 2), dim=1), ptr=0)
    for ptr in (5, -1):
        with learner_raises("ValueError", what=f"ptr={ptr} with a queue of 5 rows"):
            _call_with(learner, ptr=ptr)
    with learner_raises("ValueError", what="x_q of 2 rows and x_k of 3 rows"):
        _call_with(learner, x_k=torch.randn(3, 3))
    with learner_raises("ValueError", what="a 1-D queue"):
        _call_with(learner, queue=torch.randn(5))


# -- correctness --------------------------------------------------------------
def _worked_example():
    """The spec's worked example: identity and swap encoders, m = 0.75, t = 0.5, K = 3, ptr = 2."""
    def linear(weight):
        layer = torch.nn.Linear(2, 2).double()
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(weight, dtype=torch.float64))
            layer.bias.zero_()
        return torch.nn.Sequential(layer)

    queue = torch.tensor([[0.0, 1.0], [-1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)
    x_q = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    x_k = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    return linear([[1.0, 0.0], [0.0, 1.0]]), linear([[0.0, 1.0], [1.0, 0.0]]), queue, x_q, x_k


WORKED_LOSS = 1.6522477
WORKED_QUEUE = [[3 / math.sqrt(10), 1 / math.sqrt(10)], [-1.0, 0.0], [1 / math.sqrt(10), 3 / math.sqrt(10)]]


@check("correctness")
def check_worked_example_from_spec(learner):
    encoder_q, encoder_k, queue, x_q, x_k = _worked_example()
    hq = learner.build_module(module_description(encoder_q), label="Linear(2, 2) weight I (encoder_q)")
    hk = learner.build_module(module_description(encoder_k), label="Linear(2, 2) weight [[0, 1], [1, 0]] (encoder_k)")
    result = learner.call("moco_step", hq, hk, queue, 2, x_q, x_k, 0.75, 0.5, return_inputs=True)
    loss, new_ptr = _unpack(result.output)
    assert_scalar_like(loss, torch.float64, "cpu", "loss")
    assert_close(loss, torch.tensor(WORKED_LOSS, dtype=torch.float64), "loss", rtol=1e-6, atol=1e-7)
    if _ptr_value(new_ptr) != 1:
        raise AssertionError(f"new_ptr: expected (2 + 2) % 3 = 1, got {_ptr_value(new_ptr)}")
    assert_close(result.inputs_after[2], torch.tensor(WORKED_QUEUE, dtype=torch.float64),
                 "queue after the step (rows 2 and 0 get the two keys)", rtol=1e-6, atol=1e-7)


@check("correctness")
@examples(20)
@given(case=moco_cases())
def check_matches_reference(learner, reference, device, case):
    mine = learner_step(learner, case, device=device)
    loss, new_ptr, *_ = reference_step(reference, case)
    assert_scalar_like(mine.loss, case.torch_dtype, device, "loss")
    assert_close(mine.loss, loss, "loss", case.torch_dtype)
    if _ptr_value(mine.new_ptr) != new_ptr:
        raise AssertionError(f"new_ptr: expected ({case.ptr} + {case.b}) % {case.k} = {new_ptr}, "
                             f"got {_ptr_value(mine.new_ptr)}")


@check("correctness")
def check_default_hyperparameters(learner, reference):
    case = MocoCase((4, 5, 3), "tanh", False, "float64", 3, 8, 6, 0.999, 0.07, 11)
    built = [learner.build_module(module_description(case.encoder(i).module()), label=case.encoder(i).label)
             for i in (0, 1)]
    queue, x_q, x_k = case.tensors()
    try:
        got = _unpack(learner.call("moco_step", *built, queue, case.ptr, x_q, x_k).output)[0]
    finally:
        for handle in built:
            learner.release(handle)
    assert_close(got, reference_step(reference, case)[0],
                 "loss with the default momentum (0.999) and temperature (0.07)")


@check("correctness")
@examples(10)
@given(case=moco_cases())
def check_queue_updated_in_place(learner, reference, case):
    mine = learner_step(learner, case)
    _, _, queue, _, _ = reference_step(reference, case)
    assert_close(mine.queue, queue, f"queue after the step (keys written at rows {case.ptr}, {case.ptr} + 1, ... "
                 f"mod {case.k})", case.torch_dtype)


@check("correctness")
def check_wraps_around_the_queue_end(learner, reference):
    case = MocoCase((3, 4, 2), "tanh", False, "float64", 3, 7, 5, 0.9, 0.2, 5)
    mine = learner_step(learner, case)
    _, new_ptr, queue, _, _ = reference_step(reference, case)
    before = case.tensors()[0]
    after = as_tensor(mine.queue, "queue")
    changed = [i for i in range(case.k) if not torch.equal(after[i], before[i])]
    if changed != [0, 5, 6]:
        raise AssertionError(f"with K = 7, B = 3 and ptr = 5 the keys go to rows 5, 6 and 0; rows {changed} changed")
    assert_close(after, queue, "queue after a step that wraps around its end")
    if _ptr_value(mine.new_ptr) != new_ptr:
        raise AssertionError(f"new_ptr: expected (5 + 3) % 7 = 1, got {_ptr_value(mine.new_ptr)}")


@check("correctness")
@examples(10)
@given(case=moco_cases())
def check_momentum_update_of_the_key_encoder(learner, reference, case):
    mine = learner_step(learner, case)
    _, _, _, _, encoder_k = reference_step(reference, case)
    _assert_state(mine.state_k, encoder_k, f"encoder_k (momentum {case.momentum:g}: theta_k <- m theta_k + "
                  "(1 - m) theta_q for parameters; buffers only through its own forward pass)", case.torch_dtype)


@check("correctness")
def check_buffers_follow_their_own_encoder(learner, reference):
    case = MocoCase((3, 5, 2), "relu", True, "float64", 4, 6, 3, 0.9, 0.2, 15)
    mine = learner_step(learner, case)
    _, _, _, encoder_q, encoder_k = reference_step(reference, case)
    _assert_state(mine.state_k, encoder_k, "encoder_k (batch norm statistics come from its own forward pass on "
                  "x_k, never from encoder_q's: the momentum update is for parameters only)", torch.float64,
                  kinds=("buffers",))
    _assert_state(mine.state_q, encoder_q, "encoder_q (its batch norm statistics, from its forward pass on x_q)",
                  torch.float64, kinds=("buffers",))


@check("correctness")
def check_keys_come_from_the_updated_key_encoder(learner, reference):
    case = MocoCase((3, 5, 4), "tanh", False, "float64", 4, 9, 2, 0.9, 0.2, 21)
    mine = learner_step(learner, case)
    loss, *_ = reference_step(reference, case)
    late, *_ = reference_step(reference, case, momentum=1.0, temperature=case.temperature)
    got = as_tensor(mine.loss, "loss")
    if torch.allclose(got, late, rtol=1e-9, atol=1e-12) and not torch.allclose(late, loss, rtol=1e-6):
        raise AssertionError("the loss is the one of keys computed before the momentum update: update "
                             "encoder_k first, then compute the keys with it")
    assert_close(got, loss, "loss (keys from the updated encoder_k)")


@check("correctness")
def check_negatives_are_the_queue_before_the_step(learner, reference):
    case = MocoCase((3, 5, 4), "tanh", False, "float64", 3, 6, 1, 0.9, 0.2, 31)
    mine = learner_step(learner, case)
    loss, *_ = reference_step(reference, case)
    got = as_tensor(mine.loss, "loss")
    # the same step with the keys enqueued first: each positive is also one of its negatives
    _, _, queue_after, encoder_q, _ = reference_step(reference, case)
    with torch.no_grad():
        q = torch.nn.functional.normalize(encoder_q(case.tensors()[1]), dim=1)
    early = _loss_with_queue(q, queue_after, case)
    if torch.allclose(got, early, rtol=1e-9) and not torch.allclose(early, loss, rtol=1e-6):
        raise AssertionError("the loss used the queue after this step's keys were written into it: each "
                             "positive key is then among its own negatives. Compute the loss first, enqueue last")
    assert_close(got, loss, "loss (negatives: the queue as it was before the step)")


def _loss_with_queue(q, queue, case):
    """The loss of queries q whose positives are the rows of queue the step wrote."""
    rows = torch.arange(case.ptr, case.ptr + case.b) % case.k
    positive = (q * queue[rows]).sum(1, keepdim=True)
    logits = torch.cat([positive, q @ queue.T], dim=1) / case.temperature
    return torch.nn.functional.cross_entropy(logits, torch.zeros(case.b, dtype=torch.long))


# -- gradients ----------------------------------------------------------------
def _backward_step(learner, case, device=None):
    try:
        mine = learner_step(learner, case, backward=True, device=device)
    except LearnerRaised as exc:
        if exc.kind == "not_implemented":
            raise
        raise AssertionError(f"backpropagating the returned loss failed: {exc.describe()}. The queue is changed "
                             "in place after the loss: the loss's graph must not hold the queue itself "
                             "(queue.detach() shares its memory; use queue.clone().detach())") from None
    if isinstance(mine.backward, str):
        raise AssertionError(f"the loss cannot be backpropagated: {mine.backward}")
    return mine


@check("gradients")
@examples(12)
@given(case=moco_cases())
def check_gradients_reach_encoder_q_only(learner, reference, device, case):
    mine = _backward_step(learner, case, device)
    _, _, _, encoder_q, _ = reference_step(reference, case, backward=True)
    names = [name for name, _ in encoder_q.named_parameters()]
    for name in names:
        got = mine.state_k["grads"].get(name)
        if got is not None and bool(got.ne(0).any()):
            raise AssertionError(f"encoder_k's {name} got a gradient (max |grad| {got.abs().max().item():.3g}): "
                                 "the keys must be computed under torch.no_grad() (or detached)")
    got = [mine.state_q["grads"].get(name) for name in names]
    if any(g is None for g in got):
        raise AssertionError(f"encoder_q got no gradient in {[n for n, g in zip(names, got) if g is None]}")
    assert_grads_close([g / UPSTREAM for g in got], [p.grad for p in encoder_q.parameters()],
                       [f"encoder_q's {n}" for n in names], case.torch_dtype, noise_scale=1 / case.temperature)


@check("gradients")
def check_loss_backpropagates_after_the_enqueue(learner):
    _backward_step(learner, MocoCase((3, 4), "tanh", False, "float32", 4, 8, 6, 0.9, 0.2, 41))


# -- properties ---------------------------------------------------------------
@check("properties")
@examples(6)
@given(case=moco_cases(), perm_seed=seeds)
def check_loss_ignores_the_order_of_the_queue(learner, case, perm_seed):
    base = as_tensor(learner_step(learner, case).loss, "loss")
    perm = torch.randperm(case.k, generator=torch.Generator().manual_seed(perm_seed))
    queue, x_q, x_k = case.tensors()
    built = [learner.build_module(module_description(case.encoder(i).module()), label=case.encoder(i).label)
             for i in (0, 1)]
    try:
        moved = _unpack(learner.call("moco_step", *built, queue[perm], case.ptr, x_q, x_k, case.momentum,
                                     case.temperature).output)[0]
    finally:
        for handle in built:
            learner.release(handle)
    assert_close(moved, base, "loss with the queue's rows permuted (the negatives are a set)", case.torch_dtype)


# -- stability ------------------------------------------------------------------
@check("stability")
def check_low_temperature_float32(learner, reference):
    case = MocoCase((8, 16, 8), "tanh", False, "float32", 16, 512, 100, 0.99, 0.01, 51)
    mine = learner_step(learner, case)
    assert_close(mine.loss, reference_step(reference, case)[0], "loss at temperature 0.01 (logits up to 100)",
                 rtol=1e-3, atol=1e-4)


# -- hygiene --------------------------------------------------------------------
@check("hygiene")
def check_inputs_and_encoder_q_unchanged(learner):
    case = MocoCase((3, 4, 2), "relu", True, "float32", 3, 6, 4, 0.9, 0.2, 61)
    mine = learner_step(learner, case)
    _, x_q, x_k = case.tensors()
    for sent, after, name in ((x_q, mine.inputs[0], "x_q"), (x_k, mine.inputs[1], "x_k")):
        if not torch.equal(after.tensor, sent):
            raise AssertionError(f"{name} was modified in place by moco_step; the spec forbids it")
    _assert_state(mine.state_q, case.encoder(0).module(), "encoder_q (moco_step must not change its parameters)",
                  torch.float32, kinds=("parameters",))


@check("hygiene")
def check_types_dtype_and_detached_queue(learner):
    for dtype in ("float32", "float64"):
        case = MocoCase((3, 4, 2), "tanh", False, dtype, 2, 4, 3, 0.9, 0.2, 71)
        mine = learner_step(learner, case)
        assert_scalar_like(mine.loss, case.torch_dtype, "cpu", "loss")
        if isinstance(mine.new_ptr, bool) or not isinstance(mine.new_ptr, int):
            kind = "a tensor" if hasattr(mine.new_ptr, "tensor") else type(mine.new_ptr).__name__
            raise AssertionError(f"new_ptr: expected a Python int, got {kind} (return int(...), as ptr is given)")
        queue = mine.queue
        if queue.tensor.dtype != case.torch_dtype:
            raise AssertionError(f"the queue's dtype changed to {queue.tensor.dtype}")
        if queue.requires_grad:
            raise AssertionError("the queue requires grad after the step: the keys written into it carry a "
                                 "graph (compute them under torch.no_grad())")


# -- speed ------------------------------------------------------------------------
class OwnHandles:
    """A learner view whose calls get its own child's encoders and queue in place of the names
    "encoder_q", "encoder_k", "queue" (each side's modules live in its own child)."""

    def __init__(self, learner, handles: dict):
        self.learner, self.handles = learner, handles

    def __getattr__(self, name):
        if name in ("learner", "handles"):
            raise AttributeError(name)
        return getattr(self.learner, name)

    def call(self, target, *args, **kwargs):
        return self.learner.call(target, *[self.handles.get(a, a) if isinstance(a, str) else a for a in args],
                                 **kwargs)


def _speed_side(view, encoders, queue):
    handles = {"encoder_q": view.build_module(module_description(encoders[0]), timeout=60),
               "encoder_k": view.build_module(module_description(encoders[1]), timeout=60)}
    handles["queue"] = view.put(queue, timeout=60)
    return OwnHandles(view, handles), list(handles.values())


@check("speed")
def check_speed_vs_reference(learner, reference_child, device, seed, record_property):
    encoders = [MlpCase((SPEED_IN, 256, SPEED_D), "relu", False, "float32", seed + i).module() for i in (0, 1)]
    gen = torch.Generator().manual_seed(seed)
    queue = torch.nn.functional.normalize(torch.randn(SPEED_K, SPEED_D, generator=gen), dim=1)
    mine, mine_handles = _speed_side(learner.on(device), encoders, queue)
    theirs, their_handles = _speed_side(reference_child.on(device), encoders, queue)

    def make_args(rep):
        g = torch.Generator().manual_seed(seed * 1000 + rep)
        x = torch.randn(SPEED_B, SPEED_IN, generator=g)
        return ["encoder_q", "encoder_k", "queue", (rep * 3 * SPEED_B + 7) % SPEED_K, x,
                x + 0.1 * torch.randn(SPEED_B, SPEED_IN, generator=g), 0.99, 0.07]

    def verify(a, b):
        assert_close(_unpack(a.output)[0], as_tensor(_unpack(b.output)[0], "reference loss"), "loss", torch.float32)
        if _ptr_value(a.output[1]) != b.output[1]:
            raise AssertionError(f"new_ptr: expected {b.output[1]}, got {a.output[1]}")

    try:
        result = compare_speed(mine, theirs, "moco_step", make_args, grad=None, verify=verify,
                               kwargs={"backward": 0}, max_ratio=SPEED_LIMIT)
    finally:
        for view, handles in ((mine, mine_handles), (theirs, their_handles)):
            for handle in handles:
                view.release(handle)
    record_property("message", f"K={SPEED_K}, D={SPEED_D}, B={SPEED_B}: {result.describe()}")
