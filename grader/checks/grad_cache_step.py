"""Hidden checks for grad_cache_step(encoder, x1, x2, loss_fn, chunk_size).

The encoder is a small MLP the grader describes in plain data and the child builds
(Learner.build_module); a pre-hook on its first layer counts the samples of every forward
pass made with grad enabled. loss_fn is the child's own in-batch InfoNCE
(Learner.loss_function). After the call the grader reads back the encoder's .grad and
compares it with the full-batch gradient of the same loss, computed here on a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.api import as_tensor, assert_close, check, examples, learner_raises
from grader.checks.moco_step import OwnHandles
from grader.compare import assert_grads_close
from grader.strategies import FLOAT_DTYPES, MlpCase, module_description, seeds
from grader.timing import compare_speed

# The gradient checks run even when the returned loss is wrong: .grad is the step's main result,
# and plain gradient accumulation (a wrong loss too) gets its own message there.
CATEGORY_DEPENDS = {"speed": ("matches_reference", "gradients_equal_the_full_batch_gradient")}
LOSS = "in_batch_info_nce"
# A batch of 512 pairs in chunks of 64 through an MLP 128-256-128: a loop over single samples
# (1,024 forward and backward passes) or a recomputation of the whole loss for every chunk
# is slower than the reference by more than the limit (spec: Complexity).
SPEED_N, SPEED_IN, SPEED_CHUNK, SPEED_LIMIT = 512, 128, 64, 3.0


def info_nce(temperature):
    """The same loss as the child's loss_fn (grader/child.py _in_batch_info_nce), here."""
    def loss_fn(e1, e2):
        logits = F.normalize(e1, dim=1) @ F.normalize(e2, dim=1).T
        return F.cross_entropy(logits / temperature, torch.arange(len(e1), device=e1.device))

    return loss_fn


@dataclass(frozen=True)
class CacheCase:
    """An MLP encoder (no batch norm: each sample's embedding must not depend on the others), n
    pairs of inputs, the chunk size, the loss's temperature, and whether .grad starts filled."""

    sizes: tuple
    activation: str
    dtype: str
    n: int
    chunk: int
    temperature: float
    grad_before: bool
    seed: int

    @property
    def torch_dtype(self):
        return FLOAT_DTYPES[self.dtype]

    @property
    def encoder(self) -> MlpCase:
        return MlpCase(self.sizes, self.activation, False, self.dtype, self.seed)

    def inputs(self):
        gen = torch.Generator().manual_seed(self.seed + 1)
        x1 = torch.randn(self.n, self.sizes[0], generator=gen, dtype=torch.float64)
        x2 = x1 + 0.5 * torch.randn(self.n, self.sizes[0], generator=gen, dtype=torch.float64)
        return x1.to(self.torch_dtype), x2.to(self.torch_dtype)

    def grads_before(self, module) -> dict:
        if not self.grad_before:
            return {}
        gen = torch.Generator().manual_seed(self.seed + 2)
        return {name: torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p.dtype)
                for name, p in module.named_parameters()}


@st.composite
def cache_cases(draw):
    n = draw(st.integers(1, 10))
    return CacheCase(tuple(draw(st.lists(st.integers(1, 6), min_size=2, max_size=3))),
                     draw(st.sampled_from(["tanh", "relu"])), draw(st.sampled_from(["float32", "float64"])),
                     n, draw(st.integers(1, n + 1)), draw(st.sampled_from([0.1, 0.5, 1.0])), draw(st.booleans()),
                     draw(seeds))


def full_batch(case: CacheCase):
    """(loss, {name: .grad after}) of the plain full-batch computation, .grad starting as the case says."""
    module = case.encoder.module()
    before = case.grads_before(module)
    x1, x2 = case.inputs()
    loss = info_nce(case.temperature)(module(x1), module(x2))
    grads = torch.autograd.grad(loss, list(module.parameters()))
    return loss.item(), {name: g + before[name] if name in before else g
                         for (name, _), g in zip(module.named_parameters(), grads)}


def accumulated(case: CacheCase, value=False):
    """Plain gradient accumulation: each chunk's own loss (its own negatives only), averaged;
    its gradients, or (value=True) the averaged loss."""
    module = case.encoder.module()
    x1, x2 = case.inputs()
    chunks = list(zip(x1.split(case.chunk), x2.split(case.chunk)))
    loss = sum(info_nce(case.temperature)(module(a), module(b)) for a, b in chunks) / len(chunks)
    if value:
        return loss.item()
    return {name: g for (name, _), g in zip(module.named_parameters(),
                                             torch.autograd.grad(loss, list(module.parameters())))}


@dataclass
class Run:
    loss: object
    state: dict
    inputs_after: list


def learner_run(learner, case: CacheCase, device=None) -> Run:
    module = case.encoder.module()
    encoder = learner.build_module(module_description(module, case.grads_before(module)),
                                   label=case.encoder.label + (" with .grad filled" if case.grad_before else ""),
                                   device=device)
    loss_fn = learner.loss_function(LOSS, label=f"in-batch InfoNCE loss_fn (temperature {case.temperature:g})",
                                    temperature=case.temperature)
    try:
        x1, x2 = case.inputs()
        result = learner.call("grad_cache_step", encoder, x1, x2, loss_fn, case.chunk, return_inputs=True,
                              device=device)
        return Run(result.output, learner.module_state(encoder), result.inputs_after)
    finally:
        learner.release(encoder)
        learner.release(loss_fn)


def _loss_value(output) -> float:
    if isinstance(output, bool) or not isinstance(output, (int, float)):
        t = as_tensor(output, "the returned loss")
        if t.numel() != 1:
            raise AssertionError(f"the returned loss: expected a number, got a tensor of shape {tuple(t.shape)}")
        return float(t.item())
    return float(output)


def _grads(run: Run, names) -> list:
    return [run.state["grads"].get(name) for name in names]


# -- interface ----------------------------------------------------------------
_SMALL = CacheCase((3, 2), "tanh", "float32", 4, 2, 0.5, False, 1)


@check("interface")
def check_rejects_bad_chunk_size_and_batches(learner):
    encoder = learner.build_module(module_description(_SMALL.encoder.module()), label=_SMALL.encoder.label)
    loss_fn = learner.loss_function(LOSS, temperature=0.5)
    x1, x2 = _SMALL.inputs()
    try:
        for chunk in (0, -2):
            with learner_raises("ValueError", what=f"chunk_size={chunk}"):
                learner.call("grad_cache_step", encoder, x1, x2, loss_fn, chunk)
        with learner_raises("ValueError", what="x1 of 4 samples and x2 of 3"):
            learner.call("grad_cache_step", encoder, x1, x2[:3], loss_fn, 2)
    finally:
        learner.release(encoder)
        learner.release(loss_fn)


# -- correctness --------------------------------------------------------------
def _worked_encoder():
    layer = torch.nn.Linear(2, 2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.eye(2, dtype=torch.float64))
        layer.bias.zero_()
    return torch.nn.Sequential(layer)


WORKED_X1 = [[1.0, 0.0], [0.0, 1.0]]
WORKED_X2 = [[1.0, 0.0], [1.0, 1.0]]
WORKED_LOSS = 0.4791096


@check("correctness")
def check_worked_example_from_spec(learner):
    module = _worked_encoder()
    encoder = learner.build_module(module_description(module), label="Linear(2, 2) weight I, bias 0")
    loss_fn = learner.loss_function(LOSS, temperature=1.0)
    x1, x2 = torch.tensor(WORKED_X1, dtype=torch.float64), torch.tensor(WORKED_X2, dtype=torch.float64)
    try:
        got = _loss_value(learner.call("grad_cache_step", encoder, x1, x2, loss_fn, 1).output)
        state = learner.module_state(encoder)
    finally:
        learner.release(encoder)
        learner.release(loss_fn)
    if abs(got) < 1e-12:
        raise AssertionError(f"loss: expected {WORKED_LOSS}, got 0: with chunk_size 1 a chunk's own loss has no "
                             "negatives (plain gradient accumulation); GradCache computes the loss once, on all "
                             "the embeddings")
    if abs(got - WORKED_LOSS) > 1e-6:
        raise AssertionError(f"loss: expected {WORKED_LOSS}, got {got:.8g}")
    loss = info_nce(1.0)(module(x1), module(x2))
    want = torch.autograd.grad(loss, list(module.parameters()))
    assert_grads_close(_grads(Run(None, state, []), ["0.weight", "0.bias"]), want,
                       ["encoder's 0.weight", "encoder's 0.bias"], torch.float64)


@check("correctness")
@examples(20)
@given(case=cache_cases())
def check_matches_reference(learner, device, case):
    run = learner_run(learner, case, device)
    loss, _ = full_batch(case)
    got, plain = _loss_value(run.loss), accumulated(case, value=True)
    if case.chunk < case.n and abs(got - plain) <= 1e-5 * abs(plain) and abs(plain - loss) > 1e-4 * abs(loss):
        raise AssertionError(f"the returned loss is {got:.8g}, the mean of each chunk's own loss (plain gradient "
                             f"accumulation); the full batch's loss is {loss:.8g}: GradCache computes the loss once, "
                             "on all the embeddings")
    assert_close(torch.tensor(_loss_value(run.loss), dtype=torch.float64), torch.tensor(loss, dtype=torch.float64),
                 "the returned loss (the full batch's)", case.torch_dtype)


# -- gradients ----------------------------------------------------------------
def _assert_full_batch_grads(run, case, what="encoder's"):
    _, want = full_batch(case)
    names = list(want)
    got = _grads(run, names)
    missing = [n for n, g in zip(names, got) if g is None]
    if missing:
        raise AssertionError(f"the encoder's .grad is None for {missing} after the call: nothing was backpropagated")
    if case.chunk < case.n:
        plain = accumulated(case)
        before = case.grads_before(case.encoder.module())
        looks_plain = all(torch.allclose(g.double() - before.get(n, torch.zeros(())).double(), plain[n].double(),
                                         rtol=1e-4, atol=1e-6) for n, g in zip(names, got))
        differs = any(not torch.allclose(plain[n].double() + before.get(n, torch.zeros(())).double(),
                                         want[n].double(), rtol=1e-3, atol=1e-5) for n in names)
        if looks_plain and differs:
            raise AssertionError("the gradient is plain gradient accumulation: each chunk's loss saw only its own "
                                 "chunk's negatives. GradCache computes the loss once, on all the embeddings")
    assert_grads_close(got, [want[n] for n in names], [f"{what} {n}" for n in names], case.torch_dtype,
                       noise_scale=1 / case.temperature)


@check("gradients")
@examples(15)
@given(case=cache_cases())
def check_gradients_equal_the_full_batch_gradient(learner, device, case):
    _assert_full_batch_grads(learner_run(learner, case, device), case)


@check("gradients")
def check_not_plain_gradient_accumulation(learner):
    case = CacheCase((4, 6, 3), "tanh", "float64", 8, 2, 0.5, False, 3)
    _assert_full_batch_grads(learner_run(learner, case), case)


@check("gradients")
def check_grad_adds_to_what_was_there(learner):
    case = CacheCase((3, 5, 3), "relu", "float64", 6, 4, 0.5, True, 4)
    _assert_full_batch_grads(learner_run(learner, case), case,
                             what="encoder's .grad (what it held before plus this batch's gradient)")


# -- properties: the memory rule ---------------------------------------------
@check("properties")
def check_never_forwards_more_than_chunk_size_with_grad(learner):
    for n, chunk in ((12, 4), (7, 3), (5, 1)):
        case = CacheCase((4, 5, 3), "tanh", "float32", n, chunk, 0.5, False, 5 + n)
        run = learner_run(learner, case)
        largest, passes = run.state["largest_grad_batch"], run.state["grad_forwards"]
        if passes == 0:
            raise AssertionError("the encoder never ran with grad enabled: its .grad cannot be the gradient")
        if largest > chunk:
            raise AssertionError(f"the encoder ran with grad enabled on {largest} samples at once (batch of {n} pairs, "
                                 f"chunk_size {chunk}): the first pass over the whole batch must be under "
                                 "torch.no_grad(), and the second one chunk by chunk")


# -- hygiene ----------------------------------------------------------------------
@check("hygiene")
def check_returns_a_float_and_leaves_inputs_and_weights(learner):
    case = CacheCase((3, 4, 2), "tanh", "float32", 5, 2, 0.5, False, 9)
    run = learner_run(learner, case)
    if isinstance(run.loss, bool) or not isinstance(run.loss, float):
        kind = "a tensor" if hasattr(run.loss, "tensor") else type(run.loss).__name__
        raise AssertionError(f"the loss: expected a Python float (loss.item()), got {kind}")
    for sent, after, name in zip(case.inputs(), run.inputs_after[1:3], ("x1", "x2")):
        if not torch.equal(after.tensor, sent):
            raise AssertionError(f"{name} was modified in place by grad_cache_step; the spec forbids it")
    for name, value in case.encoder.module().named_parameters():
        if not torch.equal(as_tensor(run.state["parameters"][name], name), value.detach()):
            raise AssertionError(f"the encoder's {name} changed: grad_cache_step fills .grad, the caller's "
                                 "optimizer takes the step")


# -- speed ------------------------------------------------------------------------
def _speed_side(view, module, temperature):
    handles = {"encoder": view.build_module(module_description(module), timeout=60),
               "loss_fn": view.loss_function(LOSS, temperature=temperature, timeout=60)}
    return OwnHandles(view, handles), list(handles.values())


@check("speed")
def check_speed_vs_reference(learner, reference_child, device, seed, record_property):
    module = MlpCase((SPEED_IN, 256, 128), "relu", False, "float32", seed).module()
    mine, mine_handles = _speed_side(learner.on(device), module, 0.1)
    theirs, their_handles = _speed_side(reference_child.on(device), module, 0.1)

    def make_args(rep):
        g = torch.Generator().manual_seed(seed * 1000 + rep)
        x = torch.randn(SPEED_N, SPEED_IN, generator=g)
        return ["encoder", x, x + 0.3 * torch.randn(SPEED_N, SPEED_IN, generator=g), "loss_fn", SPEED_CHUNK]

    def verify(a, b):
        assert_close(torch.tensor(_loss_value(a.output)), torch.tensor(_loss_value(b.output)), "loss", torch.float32)

    try:
        result = compare_speed(mine, theirs, "grad_cache_step", make_args, grad=None, verify=verify,
                               max_ratio=SPEED_LIMIT)
    finally:
        for view, handles in ((mine, mine_handles), (theirs, their_handles)):
            for handle in handles:
                view.release(handle)
    record_property("message", f"N={SPEED_N} pairs, chunks of {SPEED_CHUNK}: {result.describe()}")
