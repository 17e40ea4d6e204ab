"""Hidden checks for barlow_twins_loss(z1, z2, lambd=5e-3) and
vicreg_loss(z1, z2, sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0, eps=1e-4)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from grader.api import as_tensor, assert_close, check, examples
from grader.loss_checks import Loss
from grader.strategies import FLOAT_DTYPES, float_dtype_names, seeds

SPEED_LIMIT = 3.0
# N = 2048; D = 256, not 2048: at D = 2048 one forward + backward of the reference took 3 s
# (Barlow Twins) and 8 s (VICReg) in-process on the loaded 2-core VM, at D = 256 67 ms and
# 133 ms. A Python loop over the samples (Barlow Twins) or over the covariance's rows (VICReg)
# measured 59x and 70x there.
SPEED_N, SPEED_D = 2048, 256
NAMES = ("z1", "z2")
VIEWS = ("independent", "near", "identical")
BN_EPS = 1e-5
DTYPE_NAMES = {dtype: name for name, dtype in FLOAT_DTYPES.items()}


@dataclass(frozen=True)
class PairCase:
    """Two views of n samples with d features. Feature j of both views is scaled by one factor
    drawn from [0.1, 3] (some variances below 1, some above); `views` says how z2 relates to
    z1: drawn independently, z1 plus 1% noise, or equal to z1."""

    n: int
    d: int
    views: str
    dtype: str
    seed: int

    @property
    def torch_dtype(self) -> torch.dtype:
        return FLOAT_DTYPES[self.dtype]

    def tensors(self) -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(self.seed)
        scale = torch.empty(self.d, dtype=torch.float64).uniform_(0.1, 3.0, generator=gen)
        z1 = torch.randn(self.n, self.d, generator=gen, dtype=torch.float64)
        noise = torch.randn(self.n, self.d, generator=gen, dtype=torch.float64)
        z2 = {"independent": noise, "near": z1 + 0.01 * noise, "identical": z1.clone()}[self.views]
        return [(z * scale).to(self.torch_dtype) for z in (z1, z2)]


@dataclass(frozen=True)
class BtCase(PairCase):
    lambd: float


@dataclass(frozen=True)
class VicregCase(PairCase):
    sim: float
    std: float
    cov: float
    eps: float

    @property
    def coeffs(self) -> tuple[float, float, float, float]:
        return self.sim, self.std, self.cov, self.eps


def pair_cases(n=st.integers(2, 64), d=st.integers(1, 64), views=st.sampled_from(VIEWS), dtype=float_dtype_names,
               kind=PairCase, **more):
    return st.builds(kind, n=n, d=d, views=views, dtype=dtype, seed=seeds, **more)


lambdas = st.one_of(st.sampled_from([0.0, 5e-3, 0.0051, 0.1, 1.0]), st.floats(0.0, 2.0, allow_nan=False))
coefficients = st.one_of(st.sampled_from([0.0, 1.0, 25.0]), st.floats(0.0, 50.0, allow_nan=False))
vicreg_eps = st.sampled_from([1e-4, 1e-3, 1e-6, 0.1])


def bt_cases(**kw):
    return pair_cases(kind=BtCase, lambd=lambdas, **kw)


def vicreg_cases(**kw):
    return pair_cases(kind=VicregCase, sim=coefficients, std=coefficients, cov=coefficients, eps=vicreg_eps, **kw)


def worked_example():
    d = torch.float64
    z1 = torch.tensor([[1.0, 0.0], [-1.0, 1.0], [1.0, 0.0], [-1.0, -1.0]], dtype=d)
    z2 = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, -3.0]], dtype=d)
    return z1, z2


# recomputed in tests/test_redundancy_losses.py
BT_WORKED_VALUE = 0.0353436454
VICREG_WORKED_VALUE = 21.6742914286


def value_tolerance(dtype, scale):
    """(rtol, atol) for a loss whose terms reach `scale`: rounding of float32 lands on the sum's
    largest terms, not on its (possibly much smaller) value."""
    if dtype == torch.float64:
        return 1e-7, 1e-10 * scale + 1e-12
    return 2e-4, 2e-6 * scale + 1e-6


def bt_scale(z1, z2, lambd):
    """The size of the largest parts of the Barlow Twins sum (|1 - C_ii|^2 <= 4, |C_ij| <= 1)."""
    d = z1.shape[1]
    return 4 * d + lambd * d * d


def vicreg_scale(z1, z2, sim, std, cov):
    z1, z2 = z1.double(), z2.double()
    c1, c2 = z1 - z1.mean(0), z2 - z2.mean(0)
    n, d = z1.shape
    cov_size = ((c1.T @ c1).pow(2).sum() + (c2.T @ c2).pow(2).sum()) / (n - 1) ** 2 / d
    return float(sim * (z1 - z2).pow(2).mean() + std + cov * cov_size + 1)


def _grad_peak(loss_of_pair, z1, z2):
    a, b = z1.detach().double().requires_grad_(True), z2.detach().double().requires_grad_(True)
    grads = torch.autograd.grad(loss_of_pair(a, b), [a, b], allow_unused=True)
    return max(float(g.abs().max()) for g in grads if g is not None)


def _gram_squares(z):
    x = z - z.mean(0)
    return (x.T @ x).pow(2).sum() / (z.shape[0] - 1) ** 2


def gross_grad_noise(z1, z2, parts):
    """Extra gradient tolerance, one per input: float32 ulps of the largest gradient among the
    loss's gross parts. A correct formulation may compute an off-diagonal sum as all squares minus
    the diagonal's, whose gradients then cancel only up to rounding; where the net gradient is
    small that rounding is all there is."""
    if z1.dtype == torch.float64:
        return None
    peak = max(_grad_peak(part, z1, z2) for part in parts)
    noise = torch.tensor(64 * torch.finfo(z1.dtype).eps * peak, dtype=torch.float64)
    return [noise, noise]


def bt_parts(lambd):
    def standardized(z):
        return torch.nn.functional.batch_norm(z, None, None, training=True, eps=BN_EPS)

    def full_squares(a, b):
        return lambd * (standardized(a).T @ standardized(b) / a.shape[0]).pow(2).sum()

    def diagonal(a, b):
        return (1 - (standardized(a) * standardized(b)).mean(0)).pow(2).sum()

    return [full_squares, diagonal]


def vicreg_parts(sim, std, cov, eps):
    def invariance(a, b):
        return sim * (a - b).pow(2).mean()

    def variance(a, b):
        return std * sum(torch.relu(1 - torch.sqrt(z.var(0) + eps)).mean() for z in (a, b))

    def all_covariances(a, b):
        return cov * (_gram_squares(a) + _gram_squares(b)) / a.shape[1]

    return [invariance, variance, all_covariances]


def std_near_one(z, eps, margin=1e-4) -> bool:
    """Whether a feature's sqrt(var + eps) is within `margin` of 1, the hinge's kink."""
    std = torch.sqrt(z.double().var(dim=0) + eps)
    return bool(((std - 1).abs() < margin).any())


DEFAULTS = (25.0, 25.0, 1.0, 1e-4)

# The reference runs on float64 copies, so value_tolerance and gross_grad_noise need to allow for
# the learner's float32 rounding alone.
BT = Loss("barlow_twins_loss", names=(*NAMES, "lambd"), args_of=lambda case: [*case.tensors(), case.lambd],
          label_of=lambda case: f" ({case.views} views)",
          noise=lambda args: (1.0, gross_grad_noise(args[0], args[1], bt_parts(args[2]))),
          tolerance=lambda args: value_tolerance(args[0].dtype, bt_scale(*args[:3])), reference_dtype=torch.float64)
VICREG = Loss("vicreg_loss", names=(*NAMES, "sim_coeff", "std_coeff", "cov_coeff", "eps"),
              args_of=lambda case: [*case.tensors(), *case.coeffs],
              label_of=lambda case: f" ({case.views} views, coefficients {case.coeffs})",
              noise=lambda args: (1.0, gross_grad_noise(args[0], args[1], vicreg_parts(*args[2:6]))),
              tolerance=lambda args: value_tolerance(args[0].dtype, vicreg_scale(*args[:5])),
              reference_dtype=torch.float64)


def bt_of(learner, z1, z2, lambd, device=None, **kw):
    return BT.call(learner, [z1, z2, lambd], device, **kw)


def vicreg_of(learner, z1, z2, coeffs, device=None, **kw):
    return VICREG.call(learner, [z1, z2, *coeffs], device, **kw)


def assert_matches(loss, got, reference, args, what):
    rtol, atol = loss.tolerance(args)
    assert_close(got, loss.expected(reference, args), what, args[0].dtype, rtol=rtol, atol=atol)


def assert_bt(got, reference, z1, z2, lambd, what):
    assert_matches(BT, got, reference, [z1, z2, lambd], what)


def assert_vicreg(got, reference, z1, z2, coeffs, what):
    assert_matches(VICREG, got, reference, [z1, z2, *coeffs], what)


def bad_shapes():
    return [((3, 4), (3, 5)), ((3, 4), (2, 4)), ((4,), (4,)), ((2, 3, 4), (2, 3, 4)), ((1, 4), (1, 4))]


def _shape_note(s):
    return " (N = 1: no variance over the batch)" if s == (1, 4) else ""


def shapes_rejected(*rest):
    return [(f"shapes {s1} and {s2}{_shape_note(s1)}", [torch.randn(s1), torch.randn(s2), *rest])
            for s1, s2 in bad_shapes()]


# == Barlow Twins ====================================================================================
# -- interface ----------------------------------------------------------------
check_bt_rejects_bad_shapes = BT.rejects("ValueError", shapes_rejected(5e-3))
check_bt_rejects_bad_lambd = BT.rejects("ValueError", [
    (f"lambd={lambd}", [torch.randn(4, 3), torch.randn(4, 3), lambd]) for lambd in (-0.1, -1e-9, math.nan)])


# -- correctness --------------------------------------------------------------
check_bt_worked_example_from_spec = BT.worked_example(
    [("loss of the worked example", [*worked_example(), 5e-3], BT_WORKED_VALUE)], rtol=1e-9, atol=1e-11)


@check("correctness")
def check_bt_default_lambd(learner, reference):
    z1, z2 = PairCase(9, 6, "independent", "float64", 1).tensors()
    got = learner.call("barlow_twins_loss", z1, z2).output
    assert_close(got, reference.barlow_twins_loss(z1, z2, 5e-3), "loss with the default lambd 5e-3")


check_bt_matches_reference = BT.matches_reference(bt_cases(), examples_n=25)


@check("correctness")
def check_bt_small_batches_and_near_identical_views(learner, reference):
    # where C_ii is near 1, the batch variance's divisor (N, not N - 1) and BatchNorm's eps show
    for n in (2, 3, 4, 8, 16):
        for views in ("near", "identical"):
            z1, z2 = PairCase(n, 5, views, "float64", 40 + n).tensors()
            got = bt_of(learner, z1, z2, 5e-3).output
            assert_bt(got, reference, z1, z2, 5e-3,
                      f"loss for N={n}, {views} views (standardize each feature with the biased variance, "
                      f"N in the divisor, and eps={BN_EPS:g} inside the square root, as BatchNorm does)")


@check("correctness")
def check_bt_small_variance_features(learner, reference):
    # features whose variance is near BatchNorm's eps (1e-5): the eps is part of the contract
    gen = torch.Generator().manual_seed(12)
    z1 = torch.randn(12, 4, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 3e-3, 1e-3, 1e-4],
                                                                                dtype=torch.float64)
    z2 = z1 + 1e-5 * torch.randn(12, 4, generator=gen, dtype=torch.float64)
    got = bt_of(learner, z1, z2, 5e-3).output
    assert_bt(got, reference, z1, z2, 5e-3, "loss with feature standard deviations 1, 3e-3, 1e-3 and 1e-4 "
              "(the eps inside the square root matters at these sizes)")


# -- gradients ----------------------------------------------------------------
check_bt_gradients_match_reference = BT.gradients_match_reference(
    bt_cases(n=st.integers(2, 32), d=st.integers(1, 32)), examples_n=20)
check_bt_gradcheck_float64 = BT.gradcheck_float64(
    [[*case.tensors(), lambd] for case, lambd in ((PairCase(4, 3, "independent", "float64", 7), 0.5),
                                                  (PairCase(3, 2, "near", "float64", 8), 5e-3))])


# -- properties -----------------------------------------------------------------
@check("properties")
@examples(10)
@given(case=pair_cases(n=st.integers(2, 16), d=st.integers(1, 16)), lambd=lambdas, perm_seed=seeds)
def check_bt_invariances(learner, case, lambd, perm_seed):
    z1, z2 = case.tensors()
    gen = torch.Generator().manual_seed(perm_seed)
    rows, cols = torch.randperm(case.n, generator=gen), torch.randperm(case.d, generator=gen)
    shift1, shift2 = (torch.randn(case.d, generator=gen, dtype=torch.float64).to(z1.dtype) for _ in range(2))
    base = as_tensor(bt_of(learner, z1, z2, lambd).output, "loss")
    rtol, atol = value_tolerance(z1.dtype, bt_scale(z1, z2, lambd))
    if z1.dtype == torch.float32:
        rtol, atol = 4 * rtol, 4 * atol
    for what, a, b in (("permuting the samples (the same permutation in both views)", z1[rows], z2[rows]),
                       ("permuting the features (the same permutation in both views)", z1[:, cols], z2[:, cols]),
                       ("swapping the two views (C becomes its transpose)", z2, z1),
                       ("adding a constant to each feature (standardization removes it)", z1 + shift1, z2 + shift2)):
        got = bt_of(learner, a, b, lambd).output
        assert_close(got, base, f"loss after {what}", z1.dtype, rtol=rtol, atol=atol)


# -- stability ------------------------------------------------------------------
@check("stability")
def check_bt_constant_feature(learner, reference, device):
    # a feature that does not vary over the batch standardizes to 0 (0 / sqrt(0 + eps)): its
    # C_ii is 0 and it adds exactly 1 to the loss; without the eps it is 0 / 0
    for dtype in (torch.float32, torch.float64):
        gen = torch.Generator().manual_seed(13)
        z1 = torch.randn(8, 4, generator=gen, dtype=torch.float64)
        z2 = z1 + 0.1 * torch.randn(8, 4, generator=gen, dtype=torch.float64)
        z1[:, 2] = 3.0
        BT.assert_grads_match(learner, reference, [z1.to(dtype), z2.to(dtype), 5e-3], device,
                              value_what=f"loss with a constant feature in z1 ({dtype})")


@check("stability")
@examples(8)
@given(case=pair_cases(n=st.integers(2, 32), d=st.integers(1, 32), dtype=st.just("float32")),
       scale=st.sampled_from([1e-2, 1e3, 1e6]))
def check_bt_large_and_small_values(learner, reference, device, case, scale):
    z1, z2 = (z * scale for z in case.tensors())
    got = bt_of(learner, z1, z2, 5e-3, device).output
    assert_bt(got, reference, z1, z2, 5e-3, f"loss for features scaled by {scale:g}")


# -- hygiene ----------------------------------------------------------------------
check_bt_inputs_not_modified = BT.inputs_not_modified(
    [("", [*PairCase(6, 5, "near", "float32", 5).tensors(), 5e-3])])
check_bt_dtype_device_and_0dim = BT.dtype_device_and_0dim(
    lambda dtype: [("", [*PairCase(4, 3, "independent", DTYPE_NAMES[dtype], 6).tensors(), 5e-3])])
check_bt_output_keeps_autograd_graph = BT.output_keeps_autograd_graph(
    [("", [*PairCase(5, 4, "independent", "float32", 9).tensors(), 5e-3])])


# == VICReg ==========================================================================================
# -- interface ----------------------------------------------------------------
check_vicreg_rejects_bad_shapes = VICREG.rejects("ValueError", shapes_rejected())
check_vicreg_rejects_bad_coefficients = VICREG.rejects("ValueError", [
    (f"{name}={bad}", [torch.randn(4, 3), torch.randn(4, 3)], {**dict(zip(VICREG.names[2:], DEFAULTS)), name: bad})
    for name in VICREG.names[2:] for bad in (-1.0, math.nan)])


# -- correctness --------------------------------------------------------------
check_vicreg_worked_example_from_spec = VICREG.worked_example(
    [("loss of the worked example (default coefficients)", [*worked_example()], VICREG_WORKED_VALUE)],
    rtol=1e-9, atol=1e-11)
check_vicreg_matches_reference = VICREG.matches_reference(vicreg_cases(), examples_n=25)


@check("correctness")
def check_vicreg_small_batches_and_near_identical_views(learner, reference):
    # the unbiased variance and the N - 1 of the covariance show at small N; with near-identical
    # views the invariance term vanishes and the variance hinge (on the standard deviation, not
    # the variance) carries the loss
    for n in (2, 3, 4, 8, 16):
        for views in ("near", "identical"):
            z1, z2 = PairCase(n, 6, views, "float64", 60 + n).tensors()
            for coeffs in (DEFAULTS, (0.0, 1.0, 0.0, 1e-4), (0.0, 0.0, 1.0, 1e-4)):
                got = vicreg_of(learner, z1, z2, coeffs).output
                assert_vicreg(got, reference, z1, z2, coeffs,
                              f"loss for N={n}, {views} views, (sim, std, cov, eps)={coeffs} (unbiased variance, "
                              f"relu(1 - sqrt(var + eps)), covariance divided by N - 1)")


@check("correctness")
def check_vicreg_terms_separately(learner, reference):
    # one coefficient at a time: each term's own normalization (mean over N * D for the
    # invariance, mean over features and half of each view for the variance, / D per view for
    # the covariance)
    z1, z2 = PairCase(10, 7, "independent", "float64", 17).tensors()
    for coeffs, term in (((1.0, 0.0, 0.0, 1e-4), "invariance"), ((0.0, 1.0, 0.0, 1e-4), "variance"),
                         ((0.0, 0.0, 1.0, 1e-4), "covariance")):
        got = vicreg_of(learner, z1, z2, coeffs).output
        assert_vicreg(got, reference, z1, z2, coeffs, f"the {term} term alone (coefficients {coeffs[:3]})")


# -- gradients ----------------------------------------------------------------
def _off_the_hinge_kink(case) -> bool:
    return not any(std_near_one(z, case.eps) for z in case.tensors())


check_vicreg_gradients_match_reference = VICREG.gradients_match_reference(
    vicreg_cases(n=st.integers(2, 32), d=st.integers(1, 32)).filter(_off_the_hinge_kink), examples_n=20)
check_vicreg_gradcheck_float64 = VICREG.gradcheck_float64(
    [[*case.tensors(), *coeffs] for case, coeffs in ((PairCase(4, 3, "independent", "float64", 7), DEFAULTS),
                                                     (PairCase(3, 3, "near", "float64", 8), (1.0, 2.0, 0.5, 1e-3)))])


# -- properties -----------------------------------------------------------------
@check("properties")
@examples(10)
@given(case=pair_cases(n=st.integers(2, 16), d=st.integers(1, 16)), perm_seed=seeds)
def check_vicreg_invariances(learner, case, perm_seed):
    z1, z2 = case.tensors()
    gen = torch.Generator().manual_seed(perm_seed)
    rows, cols = torch.randperm(case.n, generator=gen), torch.randperm(case.d, generator=gen)
    shift = torch.randn(case.d, generator=gen, dtype=torch.float64).to(z1.dtype)
    base = as_tensor(vicreg_of(learner, z1, z2, DEFAULTS).output, "loss")
    rtol, atol = value_tolerance(z1.dtype, vicreg_scale(z1, z2, *DEFAULTS[:3]))
    if z1.dtype == torch.float32:
        rtol, atol = 4 * rtol, 4 * atol
    for what, a, b in (("permuting the samples (the same permutation in both views)", z1[rows], z2[rows]),
                       ("permuting the features (the same permutation in both views)", z1[:, cols], z2[:, cols]),
                       ("swapping the two views", z2, z1),
                       ("adding the same constant vector to both views (variance and covariance are centered)",
                        z1 + shift, z2 + shift)):
        got = vicreg_of(learner, a, b, DEFAULTS).output
        assert_close(got, base, f"loss after {what}", z1.dtype, rtol=rtol, atol=atol)


@check("properties")
@examples(12)
@given(n=st.integers(2, 12), d=st.integers(1, 6), variance=st.floats(0.01, 4.0), std=st.floats(0.0, 30.0),
       eps=vicreg_eps, seed=seeds)
def check_vicreg_closed_form_identical_views(learner, n, d, variance, std, eps, seed):
    # z1 = z2 with centered, mutually orthogonal features of unbiased variance v: the invariance and
    # covariance terms vanish and the loss is std_coeff * relu(1 - sqrt(v + eps))
    assume(d <= n - 1 and abs(math.sqrt(variance + eps) - 1) > 1e-6)
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    ones = torch.ones(n, 1, dtype=torch.float64) / math.sqrt(n)
    centered = basis - ones @ (ones.T @ basis)                    # project out the mean direction
    cols, _ = torch.linalg.qr(centered)
    z = cols[:, :d] * math.sqrt(variance * (n - 1))              # unit columns scaled to variance v
    z = z + torch.randn(1, d, generator=gen, dtype=torch.float64)  # any mean
    want = torch.tensor(std * max(0.0, 1 - math.sqrt(variance + eps)), dtype=torch.float64)
    got = vicreg_of(learner, z, z.clone(), (25.0, std, 1.0, eps)).output
    assert_close(got, want, f"loss for identical views with orthogonal features of variance {variance:g} "
                 f"(N={n}, D={d}, std_coeff={std:g}, eps={eps:g}): std_coeff * relu(1 - sqrt(var + eps))",
                 rtol=1e-8, atol=1e-10)


# -- stability ------------------------------------------------------------------
@check("stability")
def check_vicreg_collapsed_features(learner, reference, device):
    # every sample maps to the same vector: variance 0, std sqrt(eps), the hinge at its largest;
    # the gradient of sqrt at var = 0 is finite only through the eps
    for dtype in (torch.float32, torch.float64):
        gen = torch.Generator().manual_seed(14)
        z1 = torch.randn(1, 5, generator=gen, dtype=torch.float64).expand(8, 5).clone()
        z2 = z1 + 0.1 * torch.randn(8, 5, generator=gen, dtype=torch.float64)
        VICREG.assert_grads_match(learner, reference, [z1.to(dtype), z2.to(dtype), *DEFAULTS], device,
                                  value_what=f"loss with z1 fully collapsed ({dtype})")


@check("stability")
@examples(8)
@given(case=pair_cases(n=st.integers(2, 32), d=st.integers(1, 32), dtype=st.just("float32")),
       scale=st.sampled_from([1e-3, 1e2, 1e4]))
def check_vicreg_large_and_small_values(learner, reference, device, case, scale):
    z1, z2 = (z * scale for z in case.tensors())
    got = vicreg_of(learner, z1, z2, DEFAULTS, device).output
    assert_vicreg(got, reference, z1, z2, DEFAULTS, f"loss for features scaled by {scale:g}")


# -- hygiene ----------------------------------------------------------------------
check_vicreg_inputs_not_modified = VICREG.inputs_not_modified(
    [("", [*PairCase(6, 5, "near", "float32", 5).tensors(), *DEFAULTS])])
check_vicreg_dtype_device_and_0dim = VICREG.dtype_device_and_0dim(
    lambda dtype: [("", [*PairCase(4, 3, "independent", DTYPE_NAMES[dtype], 6).tensors(), *DEFAULTS])])
check_vicreg_output_keeps_autograd_graph = VICREG.output_keeps_autograd_graph(
    [("", [*PairCase(5, 4, "independent", "float32", 9).tensors(), *DEFAULTS])])


# == speed =========================================================================================
def _speed_args(n, rep_seed, rest):
    gen = torch.Generator().manual_seed(rep_seed)
    return [torch.randn(n, SPEED_D, generator=gen), torch.randn(n, SPEED_D, generator=gen), *rest]


def _speed_label(n):
    return f"N={n}, D={SPEED_D}"


check_bt_speed_vs_reference = BT.speed_vs_reference(
    (SPEED_N,), _speed_label, lambda n, rep_seed: _speed_args(n, rep_seed, [5e-3]), max_ratio=SPEED_LIMIT)
check_vicreg_speed_vs_reference = VICREG.speed_vs_reference(
    (SPEED_N,), _speed_label, lambda n, rep_seed: _speed_args(n, rep_seed, DEFAULTS), max_ratio=SPEED_LIMIT)
