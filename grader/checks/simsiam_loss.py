"""Hidden checks for simsiam_loss(p1, p2, z1, z2), and the short collapse experiment."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.api import as_tensor, assert_close, check, examples
from grader.compare import normalize_backward_noise
from grader.gradcheck import upstream
from grader.loss_checks import Loss
from grader.strategies import Case, cases, seeds

# Gradients, invariances and the experiment of a loss whose values are wrong would report
# the same bug again. The experiment does not wait for the gradient checks: a missing
# stop-gradient fails both, and the collapse it causes is the lesson.
CATEGORY_DEPENDS = {category: ("matches_reference",)
                    for category in ("gradients", "properties", "stability", "training")}
NAMES = ("p1", "p2", "z1", "z2")

# The collapse experiment (spec: "The collapse experiment"). Its seed is one of these 20,
# on each of which the reference kept the spread at 0.87-0.95 and a loss without the
# stop-gradient collapsed it to at most COLLAPSED_MAX (tests/test_simsiam_loss.py runs both).
EXPERIMENT_SEEDS = 20
SPREAD_BAR = 0.6
STEPS, BATCH, DIM_IN, HIDDEN, DIM, PRED_HIDDEN, LR = 150, 64, 16, 32, 16, 16, 0.1


def normalize_noise(tensors):
    """Extra gradient tolerance for p1, p2: ulps of |p|^-1 times |dL/d(p/|p|)| = 1 / (2N)."""
    p1, p2 = tensors[0], tensors[1]
    n = p1.shape[0]
    scale = torch.full((n,), 1 / (2 * n), dtype=torch.float64)
    return [normalize_backward_noise(scale, p1, p1.dtype), normalize_backward_noise(scale, p2, p2.dtype)]


# Only p1 and p2 get gradients: the targets z1, z2 are detached inside the loss, and
# check_no_gradient_to_the_targets tests that on its own.
LOSS = Loss("simsiam_loss", names=NAMES, args_of=lambda case: case.tensors(count=4),
            wrt=lambda args: [0, 1], noise=lambda args: (1.0, normalize_noise(args)))


def loss_of(learner, p1, p2, z1, z2, device=None, **kw):
    return LOSS.call(learner, [p1, p2, z1, z2], device, **kw)


def assert_no_gradient(grads, names):
    """None (a detached input: autograd's allow_unused answer) or exactly zero."""
    for got, name in zip(grads, names):
        if got is not None and bool(got.ne(0).any()):
            raise AssertionError(
                f"gradient w.r.t. {name}: max |grad| {got.abs().max().item():.3g}, expected none: the "
                f"target side must be stop-gradient (detach {name} inside D(p, z))")


# -- interface ----------------------------------------------------------------
check_rejects_mismatched_shapes = LOSS.rejects("ValueError", [
    (f"shapes {', '.join(map(str, shapes))}", [torch.randn(s) for s in shapes])
    for shapes in [((3, 4), (3, 4), (3, 4), (3, 5)), ((3, 4), (2, 4), (3, 4), (3, 4)), ((4,), (4,), (4,), (4,)),
                   ((2, 3, 4),) * 4, ((3, 4), (3, 4), (3, 4), (4, 3))]])


# -- correctness --------------------------------------------------------------
check_worked_example_from_spec = LOSS.worked_example([("loss", [
    torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64),
    torch.tensor([[2.0, 0.0], [4.0, 3.0]], dtype=torch.float64),
    torch.tensor([[0.0, 5.0], [3.0, 4.0]], dtype=torch.float64),
    torch.tensor([[3.0, 4.0], [0.0, -1.0]], dtype=torch.float64)], -0.14)], atol=1e-9)


@check("correctness")
def check_aligned_predictions_give_minus_one(learner):
    z1, z2 = Case(5, 3, 1.0, "float64", 2).tensors()
    scale = torch.tensor([[0.5], [2.0], [3.0], [1.0], [7.0]], dtype=torch.float64)
    got = loss_of(learner, z2 * scale, z1 * scale.flip(0), z1, z2).output
    assert_close(got, torch.tensor(-1.0, dtype=torch.float64), "loss when p1 points along z2 and p2 along z1")


check_matches_reference = LOSS.matches_reference(cases(d=st.integers(1, 64)), examples_n=25)


# -- gradients ----------------------------------------------------------------
@check("gradients")
@examples(15)
@given(case=cases(n=st.integers(1, 32), d=st.integers(1, 32)))
def check_no_gradient_to_the_targets(learner, device, case):
    grads = loss_of(learner, *case.tensors(count=4), device, grad=[0, 1, 2, 3], grad_output=upstream(
        case.torch_dtype)).grads
    if isinstance(grads, str):
        raise AssertionError(f"no gradients: {grads}")
    assert_no_gradient(grads[2:], NAMES[2:])


check_gradients_match_reference = LOSS.gradients_match_reference(
    cases(n=st.integers(1, 32), d=st.integers(1, 32)), examples_n=20)
check_gradcheck_float64 = LOSS.gradcheck_float64(
    [case.tensors(count=4) for case in (Case(3, 4, 1.0, "float64", 7), Case(2, 3, 1.0, "float64", 8))])


# -- properties -----------------------------------------------------------------
@check("properties")
@examples(10)
@given(case=cases(n=st.integers(1, 16), d=st.integers(2, 32)), factor_seed=seeds)
def check_invariant_to_scaling_rows(learner, case, factor_seed):
    tensors = case.tensors(count=4)
    gen = torch.Generator().manual_seed(factor_seed)
    scaled = [t * torch.empty(case.n, 1, dtype=torch.float64).uniform_(0.1, 100.0, generator=gen).to(t.dtype)
              for t in tensors]
    base = as_tensor(loss_of(learner, *tensors).output, "loss")
    assert_close(loss_of(learner, *scaled).output, base,
                 "loss after scaling rows by positive factors (cosine ignores length)", case.torch_dtype)


@check("properties")
@examples(10)
@given(case=cases(n=st.integers(1, 16), d=st.integers(1, 32)))
def check_symmetric_in_the_two_views(learner, case):
    p1, p2, z1, z2 = case.tensors(count=4)
    base = as_tensor(loss_of(learner, p1, p2, z1, z2).output, "loss")
    assert_close(loss_of(learner, p2, p1, z2, z1).output, base,
                 "loss with views 1 and 2 swapped (p1 <-> p2 and z1 <-> z2)", case.torch_dtype)


# -- numerical stability ---------------------------------------------------------------
@check("stability")
@examples(8)
@given(case=cases(n=st.integers(1, 16), d=st.integers(1, 32), dtype=st.just("float32")),
       scale=st.sampled_from([1e-6, 1e3, 1e6]))
def check_large_and_small_norms(learner, reference, device, case, scale):
    # rows get norms in [scale/2, 2*scale], above the 1e-8 norm floor of F.cosine_similarity
    gen = torch.Generator().manual_seed(case.seed + 1)
    tensors = [t / t.norm(dim=1, keepdim=True).clamp_min(1e-30)
               * torch.empty(case.n, 1).uniform_(0.5, 2.0, generator=gen) * scale
               for t in case.tensors(count=4)]
    got = loss_of(learner, *tensors, device).output
    assert_close(got, reference.simsiam_loss(*tensors), f"loss for vectors scaled by {scale:g}",
                 rtol=1e-3, atol=1e-4)


# -- hygiene ----------------------------------------------------------------------
check_inputs_not_modified = LOSS.inputs_not_modified([("", Case(6, 5, 1.0, "float32", 5).tensors(count=4))])
check_dtype_device_and_0dim = LOSS.dtype_device_and_0dim(
    lambda dtype: [("", [torch.randn(4, 3, dtype=dtype) for _ in range(4)])])
check_output_keeps_autograd_graph = LOSS.output_keeps_autograd_graph(
    [("", Case(4, 6, 1.0, "float32", 9).tensors(count=4))])


# -- training: the collapse experiment ---------------------------------------------------
def _networks():
    encoder = nn.Sequential(nn.Linear(DIM_IN, HIDDEN), nn.BatchNorm1d(HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, DIM))
    predictor = nn.Sequential(nn.Linear(DIM, PRED_HIDDEN), nn.BatchNorm1d(PRED_HIDDEN), nn.ReLU(),
                              nn.Linear(PRED_HIDDEN, DIM))
    return encoder, predictor


def output_spread(z: torch.Tensor) -> float:
    """SimSiam's collapse indicator (Figure 2, middle): the per-channel std of the l2-normalized
    outputs, averaged over channels, times sqrt(D): about 1 for outputs spread over the sphere,
    0 for a collapsed (constant) output."""
    return (F.normalize(z, dim=1).std(dim=0).mean() * z.shape[1] ** 0.5).item()


def collapse_experiment(loss_grads, seed: int, steps: int = STEPS) -> float:
    """Train a small SimSiam (encoder + predictor) on clustered synthetic data, with the
    gradients loss_grads(p1, p2, z1, z2) -> [dL/dp1, dL/dp2, dL/dz1, dL/dz2] (None: no
    gradient) backpropagated through both networks; returns the spread of the encoder's
    outputs on 512 training points. Runs here, in the grader: only the loss's input
    gradients come from the submission."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # tiny layers: a second thread only waits on the first
    try:
        return _train(loss_grads, seed, steps)
    finally:
        torch.set_num_threads(threads)


def _train(loss_grads, seed, steps):
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        encoder, predictor = _networks()
    centers = 2 * torch.randn(8, DIM_IN, generator=gen)
    data = centers[torch.randint(0, 8, (2048,), generator=gen)] + 0.5 * torch.randn(2048, DIM_IN, generator=gen)
    params = [*encoder.parameters(), *predictor.parameters()]
    velocities = [torch.zeros_like(p) for p in params]
    for _ in range(steps):
        x = data[torch.randint(0, len(data), (BATCH,), generator=gen)]
        x1 = x + 0.5 * torch.randn(x.shape, generator=gen)        # two noisy views
        x2 = x + 0.5 * torch.randn(x.shape, generator=gen)
        z1, z2 = encoder(x1), encoder(x2)
        p1, p2 = predictor(z1), predictor(z2)
        grads = loss_grads(p1.detach(), p2.detach(), z1.detach(), z2.detach())
        used = [(out, g) for out, g in zip((p1, p2, z1, z2), grads) if g is not None]
        for p in params:
            p.grad = None
        if used:
            torch.autograd.backward([out for out, _ in used], [g for _, g in used])
        _sgd_step(params, velocities)
    with torch.no_grad():
        return output_spread(encoder(data[:512]))


def _sgd_step(params, velocities, momentum=0.9, weight_decay=1e-4):
    """torch.optim.SGD's update (importing torch.optim costs seconds at the first step)."""
    with torch.no_grad():
        for p, v in zip(params, velocities):
            if p.grad is not None:
                v.mul_(momentum).add_(p.grad + weight_decay * p)
                p.sub_(LR * v)


def local_loss_grads(loss):
    """loss_grads for collapse_experiment from a loss function run here (calibration, tests)."""
    def grads(*tensors):
        inputs = [t.clone().requires_grad_(True) for t in tensors]
        return list(torch.autograd.grad(loss(*inputs), inputs, allow_unused=True))

    return grads


@check("training")
def check_does_not_collapse(learner, seed):
    def learner_grads(*tensors):
        got = loss_of(learner, *tensors, grad=[0, 1, 2, 3]).grads
        if isinstance(got, str):
            raise AssertionError(f"no gradients: {got}")
        return [None if g is None else g.to(torch.float32) for g in got]

    experiment_seed = seed % EXPERIMENT_SEEDS
    spread = collapse_experiment(learner_grads, experiment_seed)
    if not spread >= SPREAD_BAR:
        raise AssertionError(
            f"the outputs collapsed: after {STEPS} SGD steps of a small SimSiam trained with your loss "
            f"(experiment seed {experiment_seed}), the spread of the normalized outputs is {spread:.3f}, below "
            f"{SPREAD_BAR} (1 = spread over the sphere, 0 = one point; the reference keeps 0.87-0.95). "
            f"Is there a stop-gradient on z?")
