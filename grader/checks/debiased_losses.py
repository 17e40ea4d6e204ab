"""Hidden checks for debiased_info_nce(query, positive_key, negative_keys, temperature=0.5, tau_plus=0.1)
and decoupled_nt_xent(z1, z2, temperature=0.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hypothesis import assume, example, given
from hypothesis import strategies as st

from grader.api import as_tensor, assert_close, assert_grads_close, check, examples
from grader.compare import normalize_backward_noise, tolerance
from grader.gradcheck import of_the_loss, upstream
from grader.loss_checks import Loss
from grader.strategies import FLOAT_DTYPES, Case, cases, float_dtype_names, seeds, temperatures
from solutions.info_nce import info_nce as plain_info_nce

SPEED_LIMIT = 3.0
# debiased_info_nce: (B queries, M shared negatives, D). Many queries against few negatives show
# a loop over the queries (90x the reference in-process on the 2-core VM); few queries against
# many negatives a loop over the negatives.
DEBIASED_SPEED = ((2048, 256, 128), (64, 4096, 128))
DEBIASED_SPEED_T, DEBIASED_SPEED_TAU = 0.1, 0.1
# decoupled_nt_xent: N pairs, D = 128. N = 1024 keeps one call near 0.2 s on the 2-core VM;
# at N = 256 a loop over the anchors pays its per-row overhead.
DECOUPLED_SPEED_SIZES, DECOUPLED_SPEED_D, DECOUPLED_SPEED_T = (1024, 256), 128, 0.1
tau_pluses = st.one_of(st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.2, 0.5]),
                       st.floats(min_value=0.0, max_value=0.5, allow_nan=False))


# == debiased_info_nce ==========================================================================
@dataclass(frozen=True)
class DebiasedCase:
    """b queries with their positives, m shared negatives, all of dimension d.

    positive_key = query + spread * noise: a small spread makes the positive close to its query,
    which is where the clamp of N g becomes active (at low temperatures). The last `far` queries
    get positives drawn independently instead."""

    b: int
    m: int
    d: int
    temperature: float
    tau_plus: float
    spread: float
    dtype: str
    seed: int
    far: int = 0

    @property
    def torch_dtype(self) -> torch.dtype:
        return FLOAT_DTYPES[self.dtype]

    def args(self) -> list:
        gen = torch.Generator().manual_seed(self.seed)
        make = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64)  # noqa: E731
        query = make(self.b, self.d)
        positive = query + self.spread * make(self.b, self.d)
        if self.far:
            positive[self.b - self.far:] = make(self.far, self.d)
        negatives = make(self.m, self.d)
        return [t.to(self.torch_dtype) for t in (query, positive, negatives)] + [self.temperature, self.tau_plus]


def debiased_cases(b=st.integers(1, 32), m=st.integers(1, 48), d=st.integers(1, 64), temperature=temperatures,
                   tau_plus=tau_pluses, spread=st.sampled_from([0.05, 0.3, 1.0, 3.0]), dtype=float_dtype_names):
    return st.builds(DebiasedCase, b=b, m=m, d=d, temperature=temperature, tau_plus=tau_plus, spread=spread,
                     dtype=dtype, seed=seeds)


def _logits64(args):
    """(pos (B,), neg (B, M)) in float64: cosines / t of the normalized inputs."""
    q, k, n = (F.normalize(x.double(), dim=1) for x in args[:3])
    return (q * k).sum(1) / args[3], q @ n.T / args[3]


def _rows64(pos, neg, t, tau):
    """Per-row loss and diagnostics of the debiased objective from float64 logits."""
    m = neg.shape[1]
    shift = torch.maximum(pos, neg.amax(1)).detach()
    pos_exp, neg_sum = torch.exp(pos - shift), torch.exp(neg - shift[:, None]).sum(1)
    raw = (neg_sum - tau * m * pos_exp) / (1 - tau)
    floor = m * torch.exp(-1.0 / t - shift)
    total = pos_exp + torch.maximum(raw, floor)
    loss = torch.log(total) + shift - pos
    spread = (neg_sum + tau * m * pos_exp) / (1 - tau)     # what cancels inside raw
    return loss, raw, floor, total, spread


def debiased_value_noise(args, dtype):
    """Rounding a correct float32 answer may carry: ulps of the logits (|s| <= 1/t) amplified by the
    cancellation inside sum_j e^{s_j} - tau+ M e^p where the clamp is not active (up to
    tau+ M / (1 - tau+) near the clamp). Zero in exact arithmetic, different for every correct
    formulation."""
    pos, neg = _logits64(args)
    _, raw, floor, total, spread = _rows64(pos, neg, args[3], args[4])
    kappa = torch.where(raw > floor, spread / total, torch.ones_like(total)).clamp_min(1.0)
    return float(16 * torch.finfo(dtype).eps * (1 / args[3] + 1) * kappa.mean())


def near_the_clamp(args, margin=1e-4) -> bool:
    """Whether some row's unclamped N g is within `margin` (relative) of the clamp, where the
    gradient jumps and rounding decides the side."""
    pos, neg = _logits64(args)
    _, raw, floor, _, spread = _rows64(pos, neg, args[3], args[4])
    return bool(((raw - floor).abs() <= margin * (spread + floor)).any())


def clamp_rows(args) -> tuple[int, int]:
    """(rows where the clamp is active, all rows), in float64."""
    pos, neg = _logits64(args)
    _, raw, floor, _, _ = _rows64(pos, neg, args[3], args[4])
    return int((raw < floor).sum()), raw.numel()


def debiased_normalize_noise(args):
    """Extra gradient tolerance per input row for rows that went through F.normalize (see
    grader.compare.normalize_backward_noise), from exact float64 |dL/dlogit|."""
    pos, neg = _logits64(args)
    pos, neg = pos.requires_grad_(True), neg.requires_grad_(True)
    loss, *_ = _rows64(pos, neg, args[3], args[4])
    g_pos, g_neg = (g.abs() / args[3] for g in torch.autograd.grad(loss.mean(), [pos, neg]))
    scales = [g_pos + g_neg.sum(1), g_pos, g_neg.sum(0)]
    return [normalize_backward_noise(sc, x, x.dtype) for sc, x in zip(scales, args[:3])]


# The reference runs on float64 copies of the inputs: its own float32 cancellation (see
# debiased_value_noise) would add to the learner's.
def debiased_value_tolerance(args):
    """(rtol, atol) of a value: the dtype's, the atol widened by debiased_value_noise."""
    dtype = args[0].dtype
    return None, tolerance(dtype)[1] + debiased_value_noise(args, dtype)


DEBIASED = Loss("debiased_info_nce", names=("query", "positive_key", "negative_keys", "temperature", "tau_plus"),
                args_of=lambda case: case.args(), wrt=lambda args: [0, 1, 2],
                noise=lambda args: (1 / args[3], debiased_normalize_noise(args)), tolerance=debiased_value_tolerance,
                reference_dtype=torch.float64)


def assert_debiased_value(got, args, reference, what):
    rtol, atol = debiased_value_tolerance(args)
    assert_close(got, DEBIASED.expected(reference, args), what, args[0].dtype, rtol=rtol, atol=atol)


def debiased_of(learner, args, device=None, **kw):
    return DEBIASED.call(learner, args, device, **kw)


# -- interface ----------------------------------------------------------------
check_debiased_rejects_bad_shapes = DEBIASED.rejects("ValueError", [
    (f"query {sq}, positive_key {sk}, negative_keys {sn}",
     [torch.randn(sq), torch.randn(sk), torch.randn(sn), 0.5, 0.1])
    for sq, sk, sn in [((3, 4), (3, 5), (6, 4)), ((3, 4), (2, 4), (6, 4)), ((4,), (4,), (6, 4)),
                       ((3, 4), (3, 4), (6, 5)), ((3, 4), (3, 4), (3, 6, 4)), ((3, 4), (3, 4), (4,))]
] + [("negative_keys=None (this loss needs its negatives)", [torch.randn(3, 4), torch.randn(3, 4), None, 0.5, 0.1])])
check_debiased_rejects_bad_hyperparameters = DEBIASED.rejects("ValueError", [
    (f"temperature={t}, tau_plus={tau}", [torch.randn(3, 4), torch.randn(3, 4), torch.randn(5, 4), t, tau])
    for t, tau in ((0.0, 0.1), (-0.5, 0.1), (math.nan, 0.1), (0.5, -0.1), (0.5, 1.0), (0.5, 1.5), (0.5, math.nan))])


@check("interface")
def check_debiased_accepts_keyword_arguments(learner, reference):
    q, k, n, t, tau = DebiasedCase(3, 5, 4, 0.2, 0.05, 0.3, "float64", 4).args()
    got = learner.call("debiased_info_nce", query=q, positive_key=k, negative_keys=n, temperature=t,
                       tau_plus=tau).output
    assert_close(got, reference.debiased_info_nce(q, k, n, t, tau), "loss called with keyword arguments")


# -- correctness --------------------------------------------------------------
def debiased_worked_example():
    d = torch.float64
    query = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=d)
    positive = torch.tensor([[2.0, 0.0], [1.0, 1.0]], dtype=d)
    negatives = torch.tensor([[-1.0, 0.0], [0.0, -1.0], [0.0, 3.0]], dtype=d)
    return query, positive, negatives


DEBIASED_WORKED_VALUE = 0.5709181080   # recomputed in tests/test_debiased_losses.py


check_debiased_worked_example_from_spec = DEBIASED.worked_example([(
    "loss of the worked example (query 0's clamp is active)", [*debiased_worked_example(), 0.5, 0.1],
    DEBIASED_WORKED_VALUE)], rtol=1e-8, atol=1e-9)


@check("correctness")
def check_debiased_defaults(learner, reference):
    q, k, n, _, _ = DebiasedCase(5, 7, 6, 0.5, 0.1, 1.0, "float64", 1).args()
    got = learner.call("debiased_info_nce", q, k, n).output
    assert_close(got, reference.debiased_info_nce(q, k, n, 0.5, 0.1),
                 "loss with the defaults (temperature 0.5, tau_plus 0.1)")


check_debiased_matches_reference = DEBIASED.matches_reference(debiased_cases(), examples_n=30)


# Cases where the clamp of N g is active for some queries and not for others, B != M.
CLAMP_CASES = (DebiasedCase(6, 10, 16, 0.1, 0.1, 0.05, "float64", 21, far=3),
               DebiasedCase(12, 5, 8, 0.2, 0.2, 0.05, "float64", 22, far=4),
               DebiasedCase(9, 40, 32, 0.05, 0.05, 0.3, "float32", 23, far=4),
               DebiasedCase(4, 3, 2, 0.5, 0.3, 0.05, "float64", 24))


@check("correctness")
def check_debiased_where_the_clamp_is_active(learner, reference, device):
    for case in CLAMP_CASES:
        args = case.args()
        active, rows = clamp_rows(args)
        got = debiased_of(learner, args, device).output
        assert_debiased_value(got, args, reference,
                             f"loss with the clamp active for {active} of {rows} queries (B={case.b}, M={case.m}, "
                             f"t={case.temperature}, tau_plus={case.tau_plus}, {case.dtype}): there N g is "
                             f"M e^(-1/t), never below")


# -- gradients ----------------------------------------------------------------
# at the clamp's kink the gradient jumps and rounding decides the side: such cases are left out
check_debiased_gradients_match_reference = DEBIASED.gradients_match_reference(
    debiased_cases(b=st.integers(1, 16), m=st.integers(1, 24), d=st.integers(1, 32)).filter(
        lambda case: not near_the_clamp(case.args())), examples_n=20)
# clamp inactive everywhere; then active for some queries (never within reach of eps of its kink)
check_debiased_gradcheck_float64 = DEBIASED.gradcheck_float64(
    [case.args() for case in (DebiasedCase(3, 4, 3, 0.5, 0.1, 1.0, "float64", 7),
                              DebiasedCase(4, 3, 3, 0.2, 0.2, 0.05, "float64", 8, far=2))])


# -- properties -----------------------------------------------------------------
@check("properties")
@examples(10)
@given(case=debiased_cases(b=st.integers(1, 16), m=st.integers(1, 24), d=st.integers(1, 32), tau_plus=st.just(0.0)))
def check_debiased_is_info_nce_at_tau_plus_zero(learner, case):
    # every e^{s_j} >= e^{-1/t}, so at tau_plus = 0 the clamp never binds in exact arithmetic
    args = case.args()
    want = plain_info_nce(*[a.double() for a in args[:3]], case.temperature, "unpaired").to(case.torch_dtype)
    got = debiased_of(learner, args).output
    rtol, atol = tolerance(case.torch_dtype)
    assert_close(got, want, f"loss at tau_plus = 0: plain InfoNCE with the same shared negatives "
                 f"(t={case.temperature:g})", case.torch_dtype, rtol=rtol,
                 atol=atol + debiased_value_noise(args, case.torch_dtype))


@check("properties")
@examples(12)
@given(b=st.integers(1, 6), m=st.integers(1, 8), cosine=st.floats(-1.0, 1.0),
       temperature=st.sampled_from([0.05, 0.1, 0.2, 0.5, 1.0, 5.0]),
       tau_plus=st.sampled_from([0.0, 0.01, 0.1, 0.3]), seed=seeds)
def check_debiased_closed_form_on_orthonormal_features(learner, b, m, cosine, temperature, tau_plus, seed):
    # queries u_i, positives c u_i + sqrt(1 - c^2) v_i, negatives w_j, all orthonormal: every s_j is 0,
    # p = c / t, so N g = M max((1 - tau+ e^{c/t}) / (1 - tau+), e^{-1/t}) and the loss is log(1 + N g e^{-c/t})
    gen = torch.Generator().manual_seed(seed)
    dim = 2 * b + m + 1
    basis, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=torch.float64))
    u, v, w = basis[:b], basis[b:2 * b], basis[2 * b:2 * b + m]
    query = u * torch.empty(b, 1, dtype=torch.float64).uniform_(0.5, 2.0, generator=gen)
    positive = cosine * u + math.sqrt(max(1.0 - cosine**2, 0.0)) * v
    ng = m * max((1 - tau_plus * math.exp(cosine / temperature)) / (1 - tau_plus), math.exp(-1 / temperature))
    assume(abs((1 - tau_plus * math.exp(cosine / temperature)) / (1 - tau_plus) - math.exp(-1 / temperature)) > 1e-6)
    want = torch.tensor(math.log1p(ng * math.exp(-cosine / temperature)), dtype=torch.float64)
    got = debiased_of(learner, [query, positive, w, temperature, tau_plus]).output
    clamped = (1 - tau_plus * math.exp(cosine / temperature)) / (1 - tau_plus) < math.exp(-1 / temperature)
    assert_close(got, want, f"loss on orthonormal features (B={b}, M={m} negatives at cosine 0, cosine {cosine:g} "
                 f"to the positive, t={temperature:g}, tau_plus={tau_plus:g}, clamp {'active' if clamped else 'inactive'}):"
                 f" log(1 + N g e^(-c/t))", rtol=1e-7, atol=1e-9)


@check("properties")
@examples(10)
@given(case=debiased_cases(b=st.integers(2, 16), m=st.integers(1, 16), d=st.integers(2, 32)), perm_seed=seeds)
def check_debiased_invariant_to_scaling_and_order(learner, case, perm_seed):
    # positive factors on every vector (cosine ignores length); the queries permuted with their
    # positives; the shared negatives permuted among themselves
    args = case.args()
    gen = torch.Generator().manual_seed(perm_seed)
    factors = [torch.empty(x.shape[0], 1, dtype=torch.float64).uniform_(0.1, 100.0, generator=gen).to(x.dtype)
               for x in args[:3]]
    perm, neg_perm = torch.randperm(case.b, generator=gen), torch.randperm(case.m, generator=gen)
    moved = [(args[0] * factors[0])[perm], (args[1] * factors[1])[perm], (args[2] * factors[2])[neg_perm], *args[3:]]
    base = as_tensor(debiased_of(learner, args).output, "loss")
    got = debiased_of(learner, moved).output
    rtol, atol = tolerance(case.torch_dtype)
    assert_close(got, base, "loss after scaling every vector by a positive factor and permuting the queries "
                 "(with their positives) and the negatives", case.torch_dtype, rtol=rtol,
                 atol=atol + 2 * debiased_value_noise(args, case.torch_dtype))


# -- numerical stability ---------------------------------------------------------------
@check("stability")
def check_debiased_low_temperature_float32(learner, reference, device):
    # spread 0.05: positives close to their queries, so at t = 0.01 e^{p} is near e^{100}
    for case in (DebiasedCase(16, 48, 16, 0.01, 0.1, 0.05, "float32", 3, far=8),
                 DebiasedCase(16, 48, 16, 0.01, 0.1, 3.0, "float32", 4),
                 DebiasedCase(8, 24, 4, 0.01, 0.0, 1.0, "float32", 5)):
        args = case.args()
        active, rows = clamp_rows(args)
        DEBIASED.assert_grads_match(
            learner, reference, args, device,
            value_what=f"loss at temperature 0.01 (tau_plus {case.tau_plus}, clamp active for {active} of {rows})")


@check("stability")
def check_debiased_high_temperature_float32(learner, reference, device):
    args = DebiasedCase(16, 32, 16, 10.0, 0.1, 1.0, "float32", 6).args()
    assert_debiased_value(debiased_of(learner, args, device).output, args, reference, "loss at temperature 10")


@check("stability")
@examples(8)
@given(case=debiased_cases(b=st.integers(1, 16), m=st.integers(1, 16), d=st.integers(1, 32), dtype=st.just("float32")),
       scale=st.sampled_from([1e-6, 1e3, 1e6]))
def check_debiased_large_and_small_norms(learner, reference, device, case, scale):
    # every vector gets a norm between scale / 2 and 2 scale
    gen = torch.Generator().manual_seed(case.seed + 1)
    args = case.args()
    for i in range(3):
        x = args[i].double()
        norms = torch.empty(x.shape[0], 1, dtype=torch.float64).uniform_(0.5, 2.0, generator=gen) * scale
        args[i] = (x / x.norm(dim=1, keepdim=True) * norms).float()
    got = debiased_of(learner, args, device).output
    dtype = torch.float32
    assert_close(got, DEBIASED.expected(reference, args), f"loss for vectors scaled by {scale:g}", dtype,
                 rtol=1e-3, atol=1e-4 + debiased_value_noise(args, dtype))


# -- hygiene ----------------------------------------------------------------------
check_debiased_inputs_not_modified = DEBIASED.inputs_not_modified(
    [("", DebiasedCase(6, 4, 5, 0.3, 0.1, 0.3, "float32", 5).args())])
check_debiased_dtype_device_and_0dim = DEBIASED.dtype_device_and_0dim(
    lambda dtype: [("", DebiasedCase(4, 3, 5, 0.5, 0.1, 1.0, str(dtype).removeprefix("torch."), 6).args())])
check_debiased_output_keeps_autograd_graph = DEBIASED.output_keeps_autograd_graph(
    [("", DebiasedCase(4, 3, 6, 0.5, 0.1, 1.0, "float32", 9).args())])


# == decoupled_nt_xent ===========================================================================
def decoupled_normalize_noise(z1, z2, temperature):
    """Extra gradient tolerance per row (grader.compare.normalize_backward_noise) from exact
    float64 |dL/dlogit|: the row and the column of each anchor."""
    n = z1.shape[0]
    u = F.normalize(torch.cat([z1, z2]).double(), dim=1)                   # (2N, D)
    logits = (u @ u.T / temperature).requires_grad_(True)                  # (2N, 2N)
    rows = torch.arange(2 * n)
    mask = torch.zeros(2 * n, 2 * n, dtype=torch.bool)
    mask[rows, rows] = mask[rows, rows.roll(n)] = True
    loss = (torch.logsumexp(logits.masked_fill(mask, -math.inf), 1) - logits[rows, rows.roll(n)]).mean()
    (g,) = torch.autograd.grad(loss, logits)
    scale = (g.abs().sum(0) + g.abs().sum(1)) / temperature
    return [normalize_backward_noise(scale[:n], z1, z1.dtype), normalize_backward_noise(scale[n:], z2, z2.dtype)]


def pair_cases(n=st.integers(2, 64), d=st.integers(1, 256), temperature=temperatures, dtype=float_dtype_names):
    return cases(n=n, d=d, temperature=temperature, dtype=dtype)


def decoupled_value_tolerance(args):
    # loss values reach -1/t + log(2N): the rounding of a logit (|s| <= 1/t) sets the scale
    return None, tolerance(args[0].dtype)[1] / args[2]


DECOUPLED = Loss("decoupled_nt_xent", names=("z1", "z2", "temperature"),
                 args_of=lambda case: [*case.tensors(), case.temperature], wrt=lambda args: [0, 1],
                 noise=lambda args: (1 / args[2], decoupled_normalize_noise(*args)),
                 tolerance=decoupled_value_tolerance)


def decoupled_of(learner, z1, z2, temperature, device=None, **kw):
    return DECOUPLED.call(learner, [z1, z2, temperature], device, **kw)


# -- interface ----------------------------------------------------------------
check_decoupled_rejects_bad_shapes = DECOUPLED.rejects("ValueError", [
    (f"shapes {s1} and {s2}" + (" (N = 1: no negatives at all)" if s1 == (1, 4) else ""),
     [torch.randn(s1), torch.randn(s2), 0.1])
    for s1, s2 in [((3, 4), (3, 5)), ((3, 4), (2, 4)), ((4,), (4,)), ((2, 3, 4), (2, 3, 4)), ((1, 4), (1, 4))]])
check_decoupled_rejects_bad_temperature = DECOUPLED.rejects("ValueError", [
    (f"temperature={t}", [torch.randn(3, 4), torch.randn(3, 4), t]) for t in (0.0, -0.1, math.nan)])


# -- correctness --------------------------------------------------------------
DECOUPLED_WORKED_VALUE = -0.1910621583   # recomputed in tests/test_debiased_losses.py


check_decoupled_worked_example_from_spec = DECOUPLED.worked_example([("loss of the worked example", [
    torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64),
    torch.tensor([[1.0, 1.0], [0.0, 2.0]], dtype=torch.float64), 0.5], DECOUPLED_WORKED_VALUE)], rtol=1e-8, atol=1e-9)


@check("correctness")
def check_decoupled_default_temperature(learner, reference):
    z1, z2 = Case(5, 7, 0.1, "float64", 1).tensors()
    got = learner.call("decoupled_nt_xent", z1, z2).output
    assert_close(got, reference.decoupled_nt_xent(z1, z2, 0.1), "loss with the default temperature 0.1")


check_decoupled_matches_reference = DECOUPLED.matches_reference(pair_cases(), examples_n=25)


# -- gradients ----------------------------------------------------------------
check_decoupled_gradients_match_reference = DECOUPLED.gradients_match_reference(
    pair_cases(n=st.integers(2, 32), d=st.integers(1, 64)), examples_n=20)
check_decoupled_gradcheck_float64 = DECOUPLED.gradcheck_float64(
    [[*case.tensors(), case.temperature] for case in (Case(3, 4, 0.5, "float64", 7), Case(2, 3, 0.1, "float64", 8))])


# -- properties -----------------------------------------------------------------
@check("properties")
@examples(12)
@given(n=st.integers(2, 8), cosine=st.floats(-1.0, 1.0), temperature=st.sampled_from([0.01, 0.05, 0.1, 0.5, 2.0]),
       seed=seeds)
@example(n=3, cosine=1.0, temperature=0.01, seed=0)   # a positive logit of 1/t = 100, always tried
def check_decoupled_closed_form_on_orthonormal_features(learner, n, cosine, temperature, seed):
    # z1 rows u_i, z2 rows c u_i + sqrt(1 - c^2) v_i, all u, v orthonormal: each anchor's 2N - 2
    # negatives are at cosine 0 and its positive at c, so the loss is log(2N - 2) - c / t
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(2 * n + 1, 2 * n + 1, generator=gen, dtype=torch.float64))
    u, v = basis[:n], basis[n:2 * n]
    z1 = u * torch.empty(n, 1, dtype=torch.float64).uniform_(0.5, 2.0, generator=gen)
    z2 = cosine * u + math.sqrt(max(1.0 - cosine**2, 0.0)) * v
    want = torch.tensor(math.log(2 * n - 2) - cosine / temperature, dtype=torch.float64)
    got = decoupled_of(learner, z1, z2, temperature).output
    assert_close(got, want, f"loss on orthonormal features (N={n}, the 2N - 2 negatives at cosine 0, the positive "
                 f"at cosine {cosine:g}, t={temperature:g}): log(2N - 2) - c / t", rtol=1e-9, atol=1e-9)


@check("properties")
@examples(10)
@given(case=pair_cases(n=st.integers(2, 16), d=st.integers(2, 32)), perm_seed=seeds)
def check_decoupled_invariant_to_scaling_swapping_and_order(learner, case, perm_seed):
    z1, z2 = case.tensors()
    gen = torch.Generator().manual_seed(perm_seed)
    f1, f2 = (torch.empty(case.n, 1, dtype=torch.float64).uniform_(0.1, 100.0, generator=gen).to(z1.dtype)
              for _ in range(2))
    perm = torch.randperm(case.n, generator=gen)
    base = as_tensor(decoupled_of(learner, z1, z2, case.temperature).output, "loss")
    atol = tolerance(case.torch_dtype)[1] / case.temperature
    for what, a, b in (("swapping the two views", z2, z1),
                       ("scaling rows by positive factors (cosine ignores length)", z1 * f1, z2 * f2),
                       ("permuting the pairs (the same permutation in both views)", z1[perm], z2[perm])):
        got = decoupled_of(learner, a, b, case.temperature).output
        assert_close(got, base, f"loss after {what}", case.torch_dtype, atol=atol)


# -- numerical stability ---------------------------------------------------------------
@check("stability")
def check_decoupled_low_temperature_float32(learner, reference, device):
    # second case: views close to each other, so the positive logit is near 1/t = 100
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(32, 16, generator=gen)
    for z1, z2 in (Case(32, 16, 0.01, "float32", 3).tensors(), (a, a + 0.01 * torch.randn(32, 16, generator=gen))):
        mine = decoupled_of(learner, z1, z2, 0.01, device, grad=[0, 1], grad_output=upstream(z1.dtype))
        assert_close(mine.output, reference.decoupled_nt_xent(z1.double(), z2.double(), 0.01).float(),
                     "loss at temperature 0.01", atol=1e-3)
        assert_grads_close(of_the_loss(mine.grads), DECOUPLED.reference_grads(reference, [z1, z2, 0.01]),
                           ["z1", "z2"], torch.float32, noise_scale=100,
                           extra_atol=decoupled_normalize_noise(z1, z2, 0.01))


@check("stability")
@examples(8)
@given(case=pair_cases(n=st.integers(2, 16), d=st.integers(1, 32), dtype=st.just("float32")),
       scale=st.sampled_from([1e-6, 1e3, 1e6]))
def check_decoupled_large_and_small_norms(learner, reference, device, case, scale):
    gen = torch.Generator().manual_seed(case.seed + 1)
    z1, z2 = (z / z.norm(dim=1, keepdim=True).clamp_min(1e-30)
              * torch.empty(case.n, 1).uniform_(0.5, 2.0, generator=gen) * scale for z in case.tensors())
    got = decoupled_of(learner, z1, z2, case.temperature, device).output
    assert_close(got, reference.decoupled_nt_xent(z1.double(), z2.double(), case.temperature).float(),
                 f"loss for vectors scaled by {scale:g}", rtol=1e-3, atol=1e-4 / case.temperature)


# -- hygiene ----------------------------------------------------------------------
check_decoupled_inputs_not_modified = DECOUPLED.inputs_not_modified(
    [("", [*Case(6, 5, 0.3, "float32", 5).tensors(), 0.3])])
check_decoupled_dtype_device_and_0dim = DECOUPLED.dtype_device_and_0dim(
    lambda dtype: [("", [torch.randn(4, 3, dtype=dtype), torch.randn(4, 3, dtype=dtype), 0.5])])
check_decoupled_output_keeps_autograd_graph = DECOUPLED.output_keeps_autograd_graph(
    [("", [*Case(4, 6, 0.5, "float32", 9).tensors(), 0.5])])


# == speed =========================================================================================
def _debiased_speed_args(setting, rep_seed):
    b, m, d = setting
    g = torch.Generator().manual_seed(rep_seed)
    return [torch.randn(b, d, generator=g), torch.randn(b, d, generator=g), torch.randn(m, d, generator=g),
            DEBIASED_SPEED_T, DEBIASED_SPEED_TAU]


check_debiased_speed_vs_reference = DEBIASED.speed_vs_reference(
    DEBIASED_SPEED, lambda s: f"B={s[0]}, M={s[1]}, D={s[2]}", _debiased_speed_args, max_ratio=SPEED_LIMIT)


def _decoupled_speed_args(n, rep_seed):
    g = torch.Generator().manual_seed(rep_seed)
    return [torch.randn(n, DECOUPLED_SPEED_D, generator=g), torch.randn(n, DECOUPLED_SPEED_D, generator=g),
            DECOUPLED_SPEED_T]


check_decoupled_speed_vs_reference = DECOUPLED.speed_vs_reference(
    DECOUPLED_SPEED_SIZES, lambda n: f"N={n}, D={DECOUPLED_SPEED_D}", _decoupled_speed_args, max_ratio=SPEED_LIMIT)
