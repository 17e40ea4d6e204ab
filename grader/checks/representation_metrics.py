"""Hidden checks for alignment(x, y, alpha=2), uniformity(x, t=2) and effective_rank(features)."""

import math

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.api import (
    as_tensor,
    assert_close,
    assert_grads_close,
    assert_scalar_like,
    check,
    examples,
    learner_raises,
)
from grader.compare import normalize_backward_noise
from grader.gradcheck import finite_difference_check, of_the_loss, upstream
from grader.strategies import FLOAT_DTYPES, float_dtype_names, seeds
from grader.timing import compare_at_each, compare_speed, verify_loss_call

SPEED_LIMIT = 3.0
# (function, N, D): uniformity at two sizes (a loop over rows costs most where rows are
# cheap), alignment on many rows, effective_rank on a tall matrix (a full SVD with its
# (N, N) factor instead of the singular values alone costs seconds there).
SPEED_SETTINGS = (("uniformity", 1024, 128), ("uniformity", 128, 128), ("alignment", 8192, 64),
                  ("effective_rank", 4096, 128))
# The spec's range of t; beyond about 21 a plain log(mean(exp(.))) underflows in float32.
T_VALUES = st.one_of(st.sampled_from([0.5, 1.0, 2.0, 5.0, 20.0]), st.floats(0.1, 20.0))
ALPHAS = st.one_of(st.sampled_from([1.0, 2.0, 3.0]), st.floats(0.5, 4.0))
RANK_TOL = {torch.float64: (1e-5, 1e-5), torch.float32: (1e-3, 1e-4)}


def randn(seed, *shape, dtype=torch.float64, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64).mul(scale).to(dtype)


def call(learner, name, *args, device=None, **kw):
    return learner.call(name, *args, device=device, **kw)


def value(learner, name, *args, **kw):
    return as_tensor(call(learner, name, *args, **kw).output, f"{name}'s output")


def reference_grads(fn, tensors, *args):
    leaves = [t.clone().requires_grad_(True) for t in tensors]
    return torch.autograd.grad(fn(*leaves, *args), leaves)


def alignment_noise(x, y, alpha):
    """Extra gradient tolerance per row for the normalize step (see compare.normalize_backward_noise)."""
    u, v = F.normalize(x.double(), dim=1), F.normalize(y.double(), dim=1)
    upstream_norm = alpha * (u - v).norm(dim=1).clamp_min(1e-12).pow(alpha - 1) / x.shape[0]
    return [normalize_backward_noise(upstream_norm, x, x.dtype), normalize_backward_noise(upstream_norm, y, y.dtype)]


def uniformity_noise(x, t):
    """A bound on |dL/du_i| for any formulation: 4t times row i's share of the pair weights."""
    u = F.normalize(x.double(), dim=1)
    logits = (-t * (u[:, None] - u[None]).pow(2).sum(-1)).fill_diagonal_(float("-inf"))   # (N, N)
    share = torch.softmax(logits.flatten(), 0).view_as(logits)
    return [normalize_backward_noise(4 * t * (share.sum(0) + share.sum(1)), x, x.dtype)]


def assert_rank_close(got, want, what, dtype):
    rtol, atol = RANK_TOL[dtype]
    assert_close(got, want, what, dtype, rtol=rtol, atol=atol)


# -- interface ----------------------------------------------------------------
@check("interface")
def check_rejects_bad_shapes(learner):
    for s1, s2 in (((3, 4), (3, 5)), ((3, 4), (2, 4)), ((4,), (4,)), ((2, 3, 4), (2, 3, 4))):
        with learner_raises("ValueError", what=f"alignment of shapes {s1} and {s2}"):
            learner.call("alignment", torch.randn(s1), torch.randn(s2))
    for shape in ((1, 4), (4,), (2, 3, 4)):
        with learner_raises("ValueError", what=f"uniformity of shape {shape} (it needs N >= 2 rows)"):
            learner.call("uniformity", torch.randn(shape))
    for shape in ((4,), (2, 3, 4)):
        with learner_raises("ValueError", what=f"effective_rank of shape {shape}"):
            learner.call("effective_rank", torch.randn(shape))


@check("interface")
def check_rejects_bad_hyperparameters(learner):
    x, y = torch.randn(4, 3), torch.randn(4, 3)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with learner_raises("ValueError", what=f"alpha={bad}"):
            learner.call("alignment", x, y, bad)
        with learner_raises("ValueError", what=f"t={bad}"):
            learner.call("uniformity", x, bad)


@check("interface")
def check_effective_rank_rejects_all_zero_matrix(learner):
    for dtype in (torch.float32, torch.float64):
        with learner_raises("ValueError", what="an all-zero matrix (its singular values sum to 0)"):
            learner.call("effective_rank", torch.zeros(4, 3, dtype=dtype))


# -- correctness --------------------------------------------------------------
def worked_example():
    x = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    return x, y


@check("correctness")
def check_worked_example_from_spec(learner):
    x, y = worked_example()
    for name, args, want in (("alignment", (x, y), 1.5285954792), ("alignment", (x, y, 1), 0.9217889550),
                             ("uniformity", (x,), -4.3963489672), ("effective_rank", (x,), 1.9787512790)):
        got = call(learner, name, *args).output
        assert_scalar_like(got, torch.float64, "cpu", f"{name}{tuple(a if isinstance(a, int) else '.' for a in args)}")
        assert_close(got, torch.tensor(want, dtype=torch.float64), f"{name} on the spec's worked example",
                     rtol=1e-8, atol=1e-8)


@check("correctness")
def check_defaults(learner, reference):
    x, y = randn(1, 6, 5), randn(2, 6, 5)
    assert_close(call(learner, "alignment", x, y).output, reference.alignment(x, y, 2),
                 "alignment with the default alpha (2)")
    assert_close(call(learner, "uniformity", x).output, reference.uniformity(x, 2),
                 "uniformity with the default t (2)")


@check("correctness")
@examples(20)
@given(n=st.integers(1, 64), d=st.integers(1, 64), alpha=ALPHAS, dtype=float_dtype_names, seed=seeds)
def check_alignment_matches_reference(learner, reference, device, n, d, alpha, dtype, seed):
    x, y = randn(seed, n, d, dtype=FLOAT_DTYPES[dtype]), randn(seed + 1, n, d, dtype=FLOAT_DTYPES[dtype])
    got = call(learner, "alignment", x, y, alpha, device=device).output
    assert_scalar_like(got, x.dtype, device, "alignment")
    assert_close(got, reference.alignment(x, y, alpha), f"alignment(alpha={alpha:g})", x.dtype)


@check("correctness")
@examples(20)
@given(n=st.integers(3, 64), d=st.integers(1, 64), t=T_VALUES, dtype=float_dtype_names, seed=seeds)
def check_uniformity_matches_reference(learner, reference, device, n, d, t, dtype, seed):
    # N >= 3: with one pair the log of a mean of exponentials is its exponent
    x = randn(seed, n, d, dtype=FLOAT_DTYPES[dtype])
    got = call(learner, "uniformity", x, t, device=device).output
    assert_scalar_like(got, x.dtype, device, "uniformity")
    assert_close(got, reference.uniformity(x, t), f"uniformity(t={t:g}) over the N(N-1)/2 pairs i < j", x.dtype)


@check("correctness")
@examples(20)
@given(n=st.integers(1, 64), d=st.integers(1, 64), dtype=float_dtype_names, seed=seeds,
       scale=st.sampled_from([1.0, 0.01, 100.0]))
def check_effective_rank_matches_reference(learner, reference, device, n, d, dtype, seed, scale):
    x = randn(seed, n, d, dtype=FLOAT_DTYPES[dtype], scale=scale)
    # uneven column scales give an uneven spectrum (a flat one hides p = s^2 / sum s^2)
    x = x * torch.logspace(0, -2, d, dtype=torch.float64).to(x.dtype)
    got = call(learner, "effective_rank", x, device=device).output
    assert_scalar_like(got, x.dtype, device, "effective_rank")
    assert_rank_close(got, reference.effective_rank(x.double()), "effective_rank of the matrix as given",
                      x.dtype)


@check("correctness")
@examples(10)
@given(n=st.integers(3, 16), extra=st.integers(0, 16), t=T_VALUES, alpha=ALPHAS, seed=seeds)
def check_closed_forms_on_orthonormal_rows(learner, n, extra, t, alpha, seed):
    # rows of an orthogonal matrix, scaled: every pair is at squared distance 2
    q, _ = torch.linalg.qr(randn(seed, n + extra, n + extra))
    rows = q[:n] * torch.linspace(0.5, 3.0, n, dtype=torch.float64)[:, None]
    assert_close(value(learner, "uniformity", rows, t), torch.tensor(-2.0 * t, dtype=torch.float64),
                 f"uniformity of {n} orthogonal rows (every |u_i - u_j|^2 = 2: -2t)")
    assert_close(value(learner, "alignment", rows, -rows, alpha), torch.tensor(2.0 ** alpha, dtype=torch.float64),
                 "alignment(x, -x) (every distance is 2: 2^alpha)")
    assert_close(value(learner, "alignment", rows, 3 * rows, alpha), torch.tensor(0.0, dtype=torch.float64),
                 "alignment(x, 3x) (the same directions: 0)")
    assert_rank_close(value(learner, "effective_rank", q[:n]), torch.tensor(float(n), dtype=torch.float64),
                      f"effective_rank of {n} orthonormal rows (all singular values 1: {n})", torch.float64)


@check("correctness")
@examples(10)
@given(n=st.integers(2, 40), d=st.integers(2, 40), rank=st.integers(1, 8), seed=seeds)
def check_closed_forms_on_low_rank_matrices(learner, n, d, rank, seed):
    r = min(rank, n, d)
    # U diag(s) V^T with equal singular values: effective rank r exactly
    u, _ = torch.linalg.qr(randn(seed, n, r))
    v, _ = torch.linalg.qr(randn(seed + 1, d, r))
    flat = 2.5 * u @ v.T                                                   # (n, d), rank r
    assert_rank_close(value(learner, "effective_rank", flat), torch.tensor(float(r), dtype=torch.float64),
                      f"effective_rank of a rank-{r} matrix with {r} equal singular values", torch.float64)
    same = randn(seed + 2, 1, d).expand(n, d).clone() * 3
    assert_rank_close(value(learner, "effective_rank", same), torch.tensor(1.0, dtype=torch.float64),
                      f"effective_rank of {n} identical rows (rank 1)", torch.float64)
    assert_close(value(learner, "uniformity", same, 2.0), torch.tensor(0.0, dtype=torch.float64),
                 f"uniformity of {n} identical rows (all distances 0: log 1 = 0)", atol=1e-7)


@check("correctness")
@examples(10)
@given(n=st.integers(3, 12), t=T_VALUES)
def check_uniformity_of_a_regular_simplex(learner, n, t):
    # n unit vectors with pairwise cosine -1/(n-1) (centred standard basis): |u_i - u_j|^2 = 2n/(n-1)
    simplex = torch.eye(n, dtype=torch.float64) - 1.0 / n
    assert_close(value(learner, "uniformity", simplex, t), torch.tensor(-t * 2 * n / (n - 1), dtype=torch.float64),
                 f"uniformity of a regular {n}-point simplex (-2tN/(N-1))")


# -- gradients ----------------------------------------------------------------
@check("gradients")
@examples(15)
@given(n=st.integers(1, 32), d=st.integers(2, 32), alpha=st.sampled_from([1.0, 2.0, 3.0, 1.5]),
       dtype=float_dtype_names, seed=seeds)
def check_alignment_gradients_match_reference(learner, reference, device, n, d, alpha, dtype, seed):
    # D >= 2: no pair is identical (with D = 1 half of them are), where |d|^alpha has a kink
    # (alpha = 1) or a gradient that some correct formulations compute as nan (alpha < 2)
    x, y = randn(seed, n, d, dtype=FLOAT_DTYPES[dtype]), randn(seed + 1, n, d, dtype=FLOAT_DTYPES[dtype])
    mine = call(learner, "alignment", x, y, alpha, device=device, grad=[0, 1], grad_output=upstream(x.dtype))
    assert_grads_close(of_the_loss(mine.grads), reference_grads(reference.alignment, [x, y], alpha), ["x", "y"],
                       x.dtype, extra_atol=alignment_noise(x, y, alpha))


@check("gradients")
@examples(15)
@given(n=st.integers(2, 32), d=st.integers(1, 32), t=T_VALUES, dtype=float_dtype_names, seed=seeds)
def check_uniformity_gradients_match_reference(learner, reference, device, n, d, t, dtype, seed):
    x = randn(seed, n, d, dtype=FLOAT_DTYPES[dtype])
    mine = call(learner, "uniformity", x, t, device=device, grad=[0], grad_output=upstream(x.dtype))
    assert_grads_close(of_the_loss(mine.grads), reference_grads(reference.uniformity, [x], t), ["x"], x.dtype,
                       noise_scale=t, extra_atol=uniformity_noise(x, t))


@check("gradients")
def check_gradcheck_float64(learner):
    x, y = randn(7, 3, 4), randn(8, 3, 4)
    finite_difference_check(learner, "alignment", [x, y, 2.0], [0, 1], ["x", "y"])
    finite_difference_check(learner, "alignment", [x, y, 3.0], [0, 1], ["x", "y"])
    finite_difference_check(learner, "uniformity", [randn(9, 4, 3), 2.0], [0], ["x"])
    finite_difference_check(learner, "uniformity", [randn(10, 3, 5), 0.5], [0], ["x"])


# -- properties -----------------------------------------------------------------
@check("properties")
@examples(10)
@given(n=st.integers(3, 16), d=st.integers(2, 16), t=T_VALUES, dtype=float_dtype_names, seed=seeds)
def check_invariant_to_scaling_and_permuting_rows(learner, n, d, t, dtype, seed):
    x, y = randn(seed, n, d, dtype=FLOAT_DTYPES[dtype]), randn(seed + 1, n, d, dtype=FLOAT_DTYPES[dtype])
    factors = torch.empty(n, 1, dtype=torch.float64).uniform_(0.1, 10.0, generator=torch.Generator().manual_seed(seed))
    factors = factors.to(x.dtype)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 2))
    base_u = value(learner, "uniformity", x, t)
    assert_close(value(learner, "uniformity", (x * factors)[perm], t), base_u,
                 "uniformity after scaling rows by positive factors and permuting them (it normalizes)", x.dtype)
    base_a = value(learner, "alignment", x, y)
    assert_close(value(learner, "alignment", (x * factors)[perm], y[perm]), base_a,
                 "alignment after scaling x's rows and permuting the pairs", x.dtype)
    assert_close(value(learner, "alignment", y, x), base_a, "alignment(y, x) against alignment(x, y)", x.dtype)


@check("properties")
@examples(10)
@given(n=st.integers(1, 24), d=st.integers(1, 24), seed=seeds, scale=st.sampled_from([1e-3, 7.0, 1e3]))
def check_effective_rank_invariances(learner, n, d, seed, scale):
    x = randn(seed, n, d) * torch.logspace(0, -1, d, dtype=torch.float64)
    q, _ = torch.linalg.qr(randn(seed + 1, d, d))
    base = value(learner, "effective_rank", x)
    assert_rank_close(value(learner, "effective_rank", scale * x), base,
                      f"effective_rank of the matrix times {scale:g} (the p_k do not change)", torch.float64)
    assert_rank_close(value(learner, "effective_rank", x @ q), base,
                      "effective_rank after an orthogonal change of basis", torch.float64)
    assert_rank_close(value(learner, "effective_rank", x.T.contiguous()), base,
                      "effective_rank of the transpose (the same singular values)", torch.float64)


# -- numerical stability ---------------------------------------------------------------
def near_collapsed(seed, n, d, spread, dtype):
    base = randn(seed, 1, d)
    return (base + spread * randn(seed + 1, n, d)).to(dtype)


@check("stability")
def check_near_collapsed_features(learner, reference, device):
    for spread in (1e-3, 1e-5, 0.0):
        x = near_collapsed(3, 48, 32, spread, torch.float32)
        y = near_collapsed(3, 48, 32, spread, torch.float32).flip(0)
        for name, args in (("alignment", (x, y)), ("uniformity", (x,))):
            mine = call(learner, name, *args, device=device, grad=list(range(len(args))),
                        grad_output=upstream(x.dtype))
            want = getattr(reference, name)(*(a.double() for a in args))
            assert_close(mine.output, want, f"{name} of near-collapsed float32 features (spread {spread:g})",
                         rtol=1e-3, atol=1e-5)
            if isinstance(mine.grads, str) or not all(g is not None and torch.isfinite(g).all() for g in mine.grads):
                raise AssertionError(f"{name}'s gradients for near-collapsed features (spread {spread:g}) are "
                                     f"not finite: {mine.grads if isinstance(mine.grads, str) else 'inf/nan'}")
        assert_rank_close(call(learner, "effective_rank", x, device=device).output,
                          reference.effective_rank(x.double()),
                          f"effective_rank of near-collapsed float32 features (spread {spread:g})", torch.float32)


@check("stability")
@examples(10)
@given(n=st.integers(2, 40), d=st.integers(2, 40), rank=st.integers(1, 6), dtype=float_dtype_names, seed=seeds)
def check_rank_deficient_matrices(learner, reference, device, n, d, rank, dtype, seed):
    # exact zero singular values: 0 log 0 must count as 0, and the Gram matrix's eigenvalues
    # come out slightly negative
    r = min(rank, n, d)
    x = (randn(seed, n, r) @ randn(seed + 1, r, d)).to(FLOAT_DTYPES[dtype])
    assert_rank_close(call(learner, "effective_rank", x, device=device).output,
                      reference.effective_rank(x.double()), f"effective_rank of a rank-{r} {tuple(x.shape)} matrix",
                      x.dtype)
    # dead dimensions (all-zero columns, as dead ReLU units give) in a tall matrix: singular
    # values that are exactly 0
    dead = torch.cat([x, torch.zeros(n, 3, dtype=x.dtype)], dim=1)
    tall = torch.cat([dead, dead.flip(0) * 0.5])[: max(2 * n, d + 4)]
    tall = torch.cat([tall, tall]) if tall.shape[0] < d + 4 else tall
    assert_rank_close(call(learner, "effective_rank", tall, device=device).output,
                      reference.effective_rank(tall.double()),
                      f"effective_rank of a {tuple(tall.shape)} matrix with 3 all-zero columns (exact zero singular values)",
                      x.dtype)


@check("stability")
def check_large_t_and_extreme_norms(learner, reference, device):
    # t = 20 on spread-out features: exp(-4t) = 1.3e-35 is still a normal float32
    x = randn(5, 64, 16, dtype=torch.float32)
    antipodal = torch.cat([x[:8], -x[:8]])
    for rows, t in ((x, 20.0), (antipodal, 20.0), (x, 0.1)):
        assert_close(call(learner, "uniformity", rows, t, device=device).output, reference.uniformity(rows.double(), t),
                     f"uniformity at t={t:g} in float32", rtol=1e-4, atol=1e-5)
    for scale in (1e-6, 1e6):
        scaled, other = x * scale, randn(6, 64, 16, dtype=torch.float32) * scale
        assert_close(call(learner, "alignment", scaled, other, device=device).output,
                     reference.alignment(scaled.double(), other.double()), f"alignment for rows of norm ~{scale:g}",
                     rtol=1e-4, atol=1e-5)
        assert_close(call(learner, "uniformity", scaled, device=device).output,
                     reference.uniformity(scaled.double()), f"uniformity for rows of norm ~{scale:g}",
                     rtol=1e-4, atol=1e-5)
        assert_rank_close(call(learner, "effective_rank", scaled, device=device).output,
                          reference.effective_rank(scaled.double()), f"effective_rank for entries ~{scale:g}",
                          torch.float32)


# -- hygiene ----------------------------------------------------------------------
@check("hygiene")
def check_inputs_not_modified(learner, device):
    x, y = randn(5, 6, 5, dtype=torch.float32), randn(6, 6, 5, dtype=torch.float32)
    for name, args in (("alignment", (x, y)), ("uniformity", (x,)), ("effective_rank", (x,))):
        result = call(learner, name, *args, device=device, return_inputs=True)
        for sent, after in zip(args, result.inputs_after):
            if not torch.equal(after.tensor, sent):
                raise AssertionError(f"{name} modified its input in place; the spec forbids it")


@check("hygiene")
def check_dtype_device_and_0dim(learner, device):
    for dtype in (torch.float32, torch.float64):
        x, y = randn(1, 4, 3, dtype=dtype), randn(2, 4, 3, dtype=dtype)
        for name, args in (("alignment", (x, y)), ("uniformity", (x,)), ("effective_rank", (x,))):
            assert_scalar_like(call(learner, name, *args, device=device).output, dtype, device, name)


@check("hygiene")
def check_outputs_keep_autograd_graph(learner, device):
    x, y = randn(9, 4, 6, dtype=torch.float32), randn(10, 4, 6, dtype=torch.float32)
    for name, args in (("alignment", (x, y)), ("uniformity", (x,))):
        grads = call(learner, name, *args, device=device, grad=list(range(len(args)))).grads
        if isinstance(grads, str) or any(g is None for g in grads):
            raise AssertionError(f"{name} must be differentiable w.r.t. its features: {grads}")


# -- speed ------------------------------------------------------------------------
def _time_one(learner, reference_child, device, seed, setting):
    name, n, d = setting
    count = 2 if name == "alignment" else 1

    def make_args(rep):
        return [randn(seed * 1000 + rep + i, n, d, dtype=torch.float32) for i in range(count)]

    grad = list(range(count)) if name != "effective_rank" else None

    def verify(mine, theirs):
        if name == "effective_rank":
            assert_rank_close(mine.output, as_tensor(theirs.output, "reference output"), name, torch.float32)
        else:
            verify_loss_call(mine, theirs, torch.float32, ("x", "y")[:count])

    return compare_speed(learner.on(device), reference_child.on(device), name, make_args, grad=grad,
                         verify=verify, max_ratio=SPEED_LIMIT)


@check("speed")
def check_speed_vs_reference(learner, reference_child, device, seed, record_property):
    record_property("message", compare_at_each(
        SPEED_SETTINGS, lambda s: f"{s[0]} N={s[1]}, D={s[2]}",
        lambda s: _time_one(learner, reference_child, device, seed, s)))
