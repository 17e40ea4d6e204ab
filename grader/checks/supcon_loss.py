"""Hidden checks for supcon_loss(features, labels=None, temperature=0.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st

from grader.api import as_tensor, assert_close, assert_grads_close, check, examples
from grader.compare import normalize_backward_noise
from grader.gradcheck import of_the_loss, upstream
from grader.loss_checks import Loss
from grader.strategies import FLOAT_DTYPES, float_dtype_names, seeds, temperatures

# (B, V, D, classes): B*V = 256 rows, where a Python loop over the anchors measured 15-19x the
# reference in process (timed first, so that such a loop fails fast), and B*V = 4096 rows, a
# realistic batch (there the loop is only about 3x: each anchor's own work is large).
SPEED_SETTINGS, SPEED_T, SPEED_LIMIT = ((128, 2, 64, 10), (2048, 2, 128, 100)), 0.1, 3.0


@dataclass(frozen=True)
class SupConCase:
    """b samples with v views of dimension d; classes = 0 means labels None (each sample its own class).

    Label values are arbitrary integers (negative and large ones too). With v = 1 the last
    sample takes the first one's label, so that some anchor has a positive.
    """

    b: int
    v: int
    d: int
    classes: int
    temperature: float
    dtype: str
    seed: int

    @property
    def torch_dtype(self) -> torch.dtype:
        return FLOAT_DTYPES[self.dtype]

    def args(self, scale: float = 1.0) -> list:
        gen = torch.Generator().manual_seed(self.seed)
        features = torch.randn(self.b, self.v, self.d, generator=gen, dtype=torch.float64).mul(scale)
        return [features.to(self.torch_dtype), self.labels(gen), self.temperature]

    def labels(self, gen):
        if self.classes == 0:
            return None
        ids = torch.randint(0, self.classes, (self.b,), generator=gen)
        if self.v == 1:
            ids[-1] = ids[0]
        values = torch.randperm(4 * self.classes, generator=gen)[:self.classes] * 37 - 1000
        return values[ids]


def _valid(case: SupConCase) -> bool:
    return case.v >= 2 or (case.b >= 2 and case.classes > 0)


def supcon_cases(b=st.integers(1, 24), v=st.integers(1, 4), d=st.integers(1, 64), classes=st.integers(0, 8),
                 temperature=temperatures, dtype=float_dtype_names):
    return st.builds(SupConCase, b=b, v=v, d=d, classes=classes, temperature=temperature, dtype=dtype,
                     seed=seeds).filter(_valid)


def normalize_noise(args):
    """Extra gradient tolerance per row: ulps of |x|^-1 times the total |dL/dlogit| the row takes
    part in (as anchor and as candidate), from an exact float64 pass."""
    features, labels, temperature = args
    b, v, d = features.shape
    z = F.normalize(features.double(), dim=-1).reshape(b * v, d)
    logits = (z @ z.T / temperature).requires_grad_(True)
    ids = (labels if labels is not None else torch.arange(b)).repeat_interleave(v)
    itself = torch.eye(b * v, dtype=torch.bool)
    positive = (ids[:, None] == ids[None, :]) & ~itself
    counts = positive.sum(1)
    log_prob = logits.masked_fill(itself, float("-inf")).log_softmax(1)
    per_anchor = -torch.where(positive, log_prob, 0.0).sum(1) / counts.clamp_min(1)
    (g,) = torch.autograd.grad(per_anchor[counts > 0].mean(), logits)
    scale = (g.abs().sum(0) + g.abs().sum(1)) / temperature
    return [normalize_backward_noise(scale, features.reshape(b * v, d), features.dtype).reshape(b, v, 1)]


# labels is a tensor too, but an integer one: only features gets a gradient
LOSS = Loss("supcon_loss", names=("features", "labels", "temperature"), args_of=lambda case: case.args(),
            wrt=lambda args: [0], noise=lambda args: (1 / args[2], normalize_noise(args)))


def loss_of(learner, args, device=None, **kw):
    return LOSS.call(learner, args, device, **kw)


def expected(reference, args):
    return LOSS.expected(reference, args)


# -- interface ----------------------------------------------------------------
check_rejects_bad_shapes = LOSS.rejects("ValueError", [
    (what, [torch.randn(shape), labels, 0.1])
    for shape, labels, what in [((4, 8), None, "features of shape (4, 8)"),
                                ((2, 3, 4, 5), None, "features of shape (2, 3, 4, 5)"),
                                ((4, 2, 3), torch.tensor([0, 1, 0]), "4 samples with 3 labels"),
                                ((4, 2, 3), torch.tensor([0, 1, 0, 1, 1]), "4 samples with 5 labels")]])
check_rejects_bad_temperature = LOSS.rejects("ValueError", [
    (f"temperature={t}", [torch.randn(4, 2, 3), None, t]) for t in (0.0, -0.1, float("nan"))])
check_rejects_batch_without_positives = LOSS.rejects("ValueError", [
    (f"a batch where no anchor has a positive ({what})", [torch.randn(b, 1, 4), labels, 0.1])
    for labels, b, what in ((None, 3, "labels None with one view"),
                            (torch.tensor([3, 1, 7]), 3, "three samples of three classes, one view"),
                            (torch.tensor([5]), 1, "one sample, one view"))],
    doc="No anchor has a positive: the loss is a mean over no terms (the public code's NaN).")


@check("interface")
def check_defaults_and_keywords(learner, reference):
    features, labels, _ = SupConCase(6, 2, 5, 3, 0.1, "float64", 1).args()
    got = learner.call("supcon_loss", features).output
    assert_close(got, reference.supcon_loss(features), "loss with the defaults (labels None, temperature 0.1)")
    got = learner.call("supcon_loss", features=features, labels=labels, temperature=0.3).output
    assert_close(got, reference.supcon_loss(features, labels, 0.3), "loss called with keyword arguments")


# -- correctness --------------------------------------------------------------
def worked_example():
    features = torch.tensor([[1.0, 0.0], [3.0, 4.0], [0.0, 2.0], [-1.0, 0.0]], dtype=torch.float64)[:, None, :]
    return features, torch.tensor([7, 7, 7, 2]), 0.5


def simclr_example():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    z2 = torch.tensor([[1.0, 1.0], [0.0, 2.0]], dtype=torch.float64)
    return torch.stack([z1, z2], dim=1), None, 0.5


WORKED_VALUE, SIMCLR_VALUE = 0.9273602943, 0.6366709065


check_worked_example_from_spec = LOSS.worked_example(
    [("loss of the labelled worked example", worked_example(), WORKED_VALUE),
     ("loss of the labels None worked example", simclr_example(), SIMCLR_VALUE)], rtol=1e-8, atol=1e-9)
check_matches_reference = LOSS.matches_reference(supcon_cases(), examples_n=30)


@check("correctness")
@examples(10)
@given(n=st.integers(1, 24), d=st.integers(1, 48), temperature=temperatures, seed=seeds)
def check_equals_nt_xent_for_two_views(learner, n, d, temperature, seed):
    """labels None and V = 2: every anchor's one positive is its other view, as in SimCLR."""
    from solutions.nt_xent import nt_xent

    gen = torch.Generator().manual_seed(seed)
    z1, z2 = torch.randn(n, d, generator=gen, dtype=torch.float64), torch.randn(n, d, generator=gen, dtype=torch.float64)
    got = loss_of(learner, [torch.stack([z1, z2], dim=1), None, temperature]).output
    assert_close(got, nt_xent(z1, z2, temperature), f"loss with labels None and two views (N={n}, D={d}, "
                 f"t={temperature:g}) against NT-Xent of the two views", rtol=1e-9, atol=1e-10)


@check("correctness")
def check_anchors_without_positives_left_out(learner, reference):
    """Anchors whose class has no other row are neither counted as 0 nor NaN: they are left out."""
    gen = torch.Generator().manual_seed(5)
    for labels, views in ((torch.tensor([0, 0, 1, 2, 3]), 1), (torch.tensor([4, 9, 4, -1, 4, 6]), 1),
                          (torch.tensor([1, 2, 3]), 2)):
        features = torch.randn(len(labels), views, 6, generator=gen, dtype=torch.float64)
        got = loss_of(learner, [features, labels, 0.2]).output
        assert_close(got, reference.supcon_loss(features, labels, 0.2),
                     f"loss with labels {labels.tolist()} and {views} view(s): anchors without a positive must "
                     "be left out of the mean", rtol=1e-9, atol=1e-10)


@check("correctness")
@examples(10)
@given(sizes=st.lists(st.integers(1, 4), min_size=1, max_size=6), v=st.integers(1, 3), temperature=temperatures,
       seed=seeds)
@example(sizes=[3], v=2, temperature=0.1, seed=1)          # one class: every other row a positive
@example(sizes=[2, 1, 1], v=1, temperature=0.5, seed=2)    # two anchors without a positive
def check_closed_form_on_orthonormal_features(learner, sizes, v, temperature, seed):
    # every row orthogonal to every other: all logits 0, so each anchor with a positive scores
    # log(M - 1) (M rows), whatever its class; anchors without one are left out
    m = sum(sizes) * v
    if m < 2 or (v == 1 and max(sizes) == 1):
        return
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(m, m, generator=gen, dtype=torch.float64))
    norms = torch.empty(m, 1, dtype=torch.float64).uniform_(0.5, 2.0, generator=gen)
    features = (basis * norms).reshape(sum(sizes), v, m)
    labels = torch.repeat_interleave(torch.arange(len(sizes)) * 3 - 2, torch.tensor(sizes))
    got = loss_of(learner, [features, labels, temperature]).output
    assert_close(got, torch.tensor(math.log(m - 1), dtype=torch.float64),
                 f"loss on {m} mutually orthogonal rows (class sizes {sizes}, {v} view(s)): every logit is 0, "
                 f"so every anchor with a positive scores log({m} - 1)", rtol=1e-9, atol=1e-10)


# -- gradients ----------------------------------------------------------------
check_gradients_match_reference = LOSS.gradients_match_reference(
    supcon_cases(b=st.integers(1, 16), d=st.integers(1, 32)), examples_n=20)
check_gradcheck_float64 = LOSS.gradcheck_float64(
    [case.args() for case in (SupConCase(3, 2, 3, 2, 0.5, "float64", 7), SupConCase(5, 1, 3, 3, 0.2, "float64", 8),
                              SupConCase(2, 2, 4, 0, 1.0, "float64", 9))])


# -- properties -----------------------------------------------------------------
@check("properties")
@examples(10)
@given(case=supcon_cases(b=st.integers(2, 16), d=st.integers(1, 32)), perm_seed=seeds)
def check_invariant_to_permuting_samples_and_views(learner, case, perm_seed):
    features, labels, t = case.args()
    gen = torch.Generator().manual_seed(perm_seed)
    perm = torch.randperm(case.b, generator=gen)
    views = torch.stack([torch.randperm(case.v, generator=gen) for _ in range(case.b)])       # (B, V)
    moved = torch.gather(features[perm], 1, views[:, :, None].expand(-1, -1, case.d))
    base = as_tensor(loss_of(learner, [features, labels, t]).output, "loss")
    got = loss_of(learner, [moved, None if labels is None else labels[perm], t]).output
    assert_close(got, base, "loss after permuting the samples (with their labels) and each sample's views",
                 case.torch_dtype)


@check("properties")
@examples(10)
@given(case=supcon_cases(b=st.integers(2, 16), d=st.integers(1, 32), classes=st.integers(1, 8)),
       offset=st.integers(-10**6, 10**6))
def check_invariant_to_relabelling(learner, case, offset):
    """Only equality of labels matters: not their values, nor whether they run from 0 to C - 1."""
    features, labels, t = case.args()
    base = as_tensor(loss_of(learner, [features, labels, t]).output, "loss")
    got = loss_of(learner, [features, labels * -3 + offset, t]).output
    assert_close(got, base, f"loss after relabelling every class c as -3 c + {offset}", case.torch_dtype)


@check("properties")
@examples(10)
@given(case=supcon_cases(b=st.integers(1, 16), d=st.integers(2, 32)), factor_seed=seeds)
def check_invariant_to_scaling_rows(learner, case, factor_seed):
    features, labels, t = case.args()
    gen = torch.Generator().manual_seed(factor_seed)
    factors = torch.empty(case.b, case.v, 1, dtype=torch.float64).uniform_(0.1, 100.0, generator=gen)
    base = as_tensor(loss_of(learner, [features, labels, t]).output, "loss")
    got = loss_of(learner, [features * factors.to(features.dtype), labels, t]).output
    assert_close(got, base, "loss after scaling each view's features by a positive factor (normalize each "
                 "row, dim=-1)", case.torch_dtype)


# -- numerical stability ---------------------------------------------------------------
@check("stability")
def check_low_temperature_float32(learner, reference, device):
    for case in (SupConCase(16, 2, 16, 4, 0.01, "float32", 3), SupConCase(24, 1, 8, 6, 0.01, "float32", 4),
                 SupConCase(12, 3, 4, 0, 0.01, "float32", 5)):
        args = case.args()
        # the gradient's name carries the temperature, which LOSS.assert_grads_match cannot say
        mine = loss_of(learner, args, device, grad=[0], grad_output=upstream(args[0].dtype))
        assert_grads_close(of_the_loss(mine.grads), LOSS.reference_grads(reference, args),
                           ["features at temperature 0.01"], args[0].dtype, noise_scale=100,
                           extra_atol=normalize_noise(args))
        assert_close(mine.output, expected(reference, args), "loss at temperature 0.01")


def spread_out_rows(m, seed):
    """m unit rows at pairwise cosine -1 / (m - 1) (a regular simplex, randomly rotated): the
    farthest apart m rows can be, every one of them a candidate far below the anchor itself."""
    gen = torch.Generator().manual_seed(seed)
    simplex = torch.eye(m, dtype=torch.float64) - 1.0 / m                     # rows sum to 0
    simplex = simplex / simplex.norm(dim=1, keepdim=True)
    rotation, _ = torch.linalg.qr(torch.randn(m, m, generator=gen, dtype=torch.float64))
    return (simplex @ rotation).float()


@check("stability")
def check_spread_out_rows_at_low_temperature(learner, reference, device):
    """At t = 0.01 every candidate lies 100 (1 - cosine) below the anchor's own 1/t: two views at
    cosine -1, or rows spread as far apart as possible. A row maximum that includes the anchor
    makes every exp() of the denominator underflow to 0."""
    z = torch.randn(1, 8, generator=torch.Generator().manual_seed(6))
    cases = [("two opposite views", torch.stack([z, -z], dim=1), None),
             ("4 rows at cosine -1/3, labels None", spread_out_rows(4, 7).reshape(2, 2, 4), None),
             ("6 rows at cosine -1/5, labels [0, 0, 1]", spread_out_rows(6, 8).reshape(3, 2, 6),
              torch.tensor([0, 0, 1]))]
    for what, features, labels in cases:
        args = [features, labels, 0.01]
        got = loss_of(learner, args, device).output
        assert_close(got, expected(reference, args), f"loss at t=0.01 for {what}", rtol=1e-4, atol=1e-4)


@check("stability")
def check_near_identical_vectors(learner, reference, device):
    gen = torch.Generator().manual_seed(11)
    base = torch.randn(1, 1, 64, generator=gen)
    features = base + 1e-4 * torch.randn(32, 2, 64, generator=gen)
    labels = torch.randint(0, 5, (32,), generator=gen)
    for t in (0.01, 0.5):
        for lab in (None, labels):
            got = loss_of(learner, [features, lab, t], device).output
            assert_close(got, expected(reference, [features, lab, t]),
                         f"loss for near-identical vectors, t={t}, labels {'None' if lab is None else 'given'}",
                         rtol=1e-3, atol=1e-3)


@check("stability")
@examples(8)
@given(case=supcon_cases(b=st.integers(1, 16), d=st.integers(1, 32), dtype=st.just("float32")),
       scale=st.sampled_from([1e-6, 1e3, 1e6]))
def check_large_and_small_norms(learner, reference, device, case, scale):
    # every row gets a norm in [scale / 2, 2 scale]
    features, labels, t = case.args()
    gen = torch.Generator().manual_seed(case.seed + 1)
    norms = torch.empty(case.b, case.v, 1).uniform_(0.5, 2.0, generator=gen) * scale
    features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-30) * norms
    got = loss_of(learner, [features, labels, t], device).output
    assert_close(got, expected(reference, [features, labels, t]), f"loss for features of norm about {scale:g}",
                 rtol=1e-3, atol=1e-4)


# -- hygiene ----------------------------------------------------------------------
check_inputs_not_modified = LOSS.inputs_not_modified([("", SupConCase(6, 2, 5, 3, 0.3, "float32", 5).args())])
check_dtype_device_and_0dim = LOSS.dtype_device_and_0dim(
    lambda dtype: [("", SupConCase(4, 2, 3, classes, 0.1, str(dtype).removeprefix("torch."), 6).args())
                   for classes in (0, 2)])
check_output_keeps_autograd_graph = LOSS.output_keeps_autograd_graph(
    [("", SupConCase(4, 2, 6, 2, 0.1, "float32", 9).args())])


# -- speed ------------------------------------------------------------------------
def _speed_args(setting, rep_seed):
    b, v, d, classes = setting
    gen = torch.Generator().manual_seed(rep_seed)
    return [torch.randn(b, v, d, generator=gen), torch.randint(0, classes, (b,), generator=gen), SPEED_T]


check_speed_vs_reference = LOSS.speed_vs_reference(
    SPEED_SETTINGS, lambda s: f"B={s[0]}, V={s[1]}, D={s[2]}, {s[3]} classes", _speed_args, max_ratio=SPEED_LIMIT)
