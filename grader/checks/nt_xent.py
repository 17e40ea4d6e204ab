"""Hidden checks for nt_xent(z1, z2, temperature=0.5)."""

import math

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.api import as_tensor, assert_close, check, examples
from grader.compare import normalize_backward_noise
from grader.loss_checks import Loss
from grader.strategies import Case, cases, seeds

# Once the loss's values differ from the reference, these checks would report the same bug
# again (gradients, invariances and speed of a wrong loss): they wait for matches_reference.
CATEGORY_DEPENDS = {category: ("matches_reference",)
                    for category in ("gradients", "properties", "stability", "speed")}
# At N = 2048 a Python loop over the 2N rows is 4-5x the reference here; at N = 256, where
# each row's own work is small, its per-row overhead shows (10-14x).
SPEED_SIZES, SPEED_D, SPEED_LIMIT = (2048, 256), 128, 3.0


def normalize_noise(z1, z2, temperature):
    """Extra gradient tolerance per row: ulps of |z|^-1 times the total |dL/dlogit| the row
    takes part in, from an exact float64 pass.

    In exact arithmetic the normalize step removes the radial part of the gradient (all of
    it when D = 1, where the true gradient is 0); in float32 what is left of that radial
    part is rounding noise, different for every correct formulation.
    """
    n = z1.shape[0]
    u = F.normalize(torch.cat([z1, z2]).double(), dim=1)                                  # (2N, D)
    logits = (u @ u.T / temperature).fill_diagonal_(float("-inf")).requires_grad_(True)  # (2N, 2N)
    (g,) = torch.autograd.grad(F.cross_entropy(logits, torch.arange(2 * n).roll(n)), logits)
    scale = (g.abs().sum(0) + g.abs().sum(1)) / temperature                               # (2N,)
    return [normalize_backward_noise(scale[:n], z1, z1.dtype), normalize_backward_noise(scale[n:], z2, z2.dtype)]


LOSS = Loss("nt_xent", names=("z1", "z2", "temperature"), args_of=lambda case: [*case.tensors(), case.temperature],
            wrt=lambda args: [0, 1], noise=lambda args: (1 / args[2], normalize_noise(*args)))


def loss_of(learner, z1, z2, temperature, device=None, **kw):
    return LOSS.call(learner, [z1, z2, temperature], device, **kw)


def expected(reference, z1, z2, temperature):
    return LOSS.expected(reference, [z1, z2, temperature])


# -- interface ----------------------------------------------------------------
check_rejects_mismatched_shapes = LOSS.rejects("ValueError", [
    (f"shapes {s1} and {s2}", [torch.randn(s1), torch.randn(s2), 0.5])
    for s1, s2 in [((3, 4), (3, 5)), ((3, 4), (2, 4)), ((4,), (4,)), ((2, 3, 4), (2, 3, 4))]])
check_rejects_nonpositive_temperature = LOSS.rejects("ValueError", [
    (f"temperature={t}", [torch.randn(3, 4), torch.randn(3, 4), t]) for t in (0.0, -0.5)])


# -- correctness --------------------------------------------------------------
check_worked_example_from_spec = LOSS.worked_example([("loss of the worked example", [
    torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64),
    torch.tensor([[1.0, 1.0], [0.0, 2.0]], dtype=torch.float64), 0.5], 0.6366709573)])


@check("correctness")
def check_default_temperature_is_half(learner, reference):
    z1, z2 = Case(5, 7, 0.5, "float64", 1).tensors()
    got = learner.call("nt_xent", z1, z2).output
    assert_close(got, reference.nt_xent(z1, z2), "loss with the default temperature")


@check("correctness")
def check_single_pair_has_zero_loss(learner):
    # with N = 1 the partner is the only term in the denominator
    got = loss_of(learner, torch.tensor([[1.0, 2.0]]), torch.tensor([[-3.0, 0.5]]), 0.1).output
    assert_close(got, torch.tensor(0.0), "loss for N=1")


check_matches_reference = LOSS.matches_reference(cases(), examples_n=25)


# -- gradients ----------------------------------------------------------------
check_gradients_match_reference = LOSS.gradients_match_reference(
    cases(n=st.integers(1, 32), d=st.integers(1, 64)), examples_n=20)
check_gradcheck_float64 = LOSS.gradcheck_float64(
    [[*case.tensors(), case.temperature] for case in (Case(3, 4, 0.5, "float64", 7), Case(4, 3, 0.1, "float64", 8))])


# -- properties -----------------------------------------------------------------
@check("properties")
@examples(10)
@given(case=cases(n=st.integers(1, 16), d=st.integers(2, 32)), factor_seed=seeds)
def check_invariant_to_scaling_rows(learner, case, factor_seed):
    z1, z2 = case.tensors()
    gen = torch.Generator().manual_seed(factor_seed)
    f1 = torch.empty(case.n, 1, dtype=torch.float64).uniform_(0.1, 100.0, generator=gen).to(z1.dtype)
    f2 = torch.empty(case.n, 1, dtype=torch.float64).uniform_(0.1, 100.0, generator=gen).to(z1.dtype)
    base = as_tensor(loss_of(learner, z1, z2, case.temperature).output, "loss")
    scaled = loss_of(learner, z1 * f1, z2 * f2, case.temperature).output
    assert_close(scaled, base, "loss after scaling rows by positive factors (cosine ignores length)",
                 case.torch_dtype)


@check("properties")
@examples(10)
@given(case=cases(n=st.integers(1, 16), d=st.integers(1, 32)))
def check_symmetric_in_the_two_views(learner, case):
    z1, z2 = case.tensors()
    forward = as_tensor(loss_of(learner, z1, z2, case.temperature).output, "loss")
    swapped = loss_of(learner, z2, z1, case.temperature).output
    assert_close(swapped, forward, "loss with z1 and z2 swapped", case.torch_dtype)


@check("properties")
@examples(10)
@given(case=cases(n=st.integers(2, 16), d=st.integers(1, 32)), perm_seed=seeds)
def check_invariant_to_permuting_pairs(learner, case, perm_seed):
    z1, z2 = case.tensors()
    perm = torch.randperm(case.n, generator=torch.Generator().manual_seed(perm_seed))
    base = as_tensor(loss_of(learner, z1, z2, case.temperature).output, "loss")
    moved = loss_of(learner, z1[perm], z2[perm], case.temperature).output
    assert_close(moved, base, "loss after permuting the pairs (same permutation in both views)",
                 case.torch_dtype)


# -- numerical stability ---------------------------------------------------------------
@check("stability")
def check_low_temperature_float32(learner, reference, device):
    z1, z2 = Case(32, 16, 0.01, "float32", 3).tensors()
    LOSS.assert_grads_match(learner, reference, [z1, z2, 0.01], device, value_what="loss at temperature 0.01")


def spread_rows(seed=21, n=8, d=8):
    """float32 views for t = 0.01 whose 2N rows' logits lie in very different ranges.

    Every z2 row points near one direction e; z1 rows 0..5 have cosines 1 down to 0.6 to e, and rows
    6 and 7 point away from e and from each other (cosine -0.5 to e, -0.5 to one another). So the
    largest logit of the batch is near 100 while the largest of rows 6 and 7 is near -30: a
    log-sum-exp shifted by the batch's maximum instead of each row's own underflows there.
    """
    gen = torch.Generator().manual_seed(seed)
    e, away = torch.zeros(d, dtype=torch.float64), torch.zeros(2, d, dtype=torch.float64)
    e[0] = 1.0
    away[:, 0], away[:, 1] = -0.5, torch.tensor([1.0, -1.0]) * math.sqrt(0.75)          # (2, D)
    side = torch.randn(n - 2, d, generator=gen, dtype=torch.float64)
    side[:, :2] = 0.0
    side = side / side.norm(dim=1, keepdim=True)                                      # unit, orthogonal to e and away
    cosines = torch.linspace(1.0, 0.6, n - 2, dtype=torch.float64)[:, None]
    graded = cosines * e + (1 - cosines**2).sqrt() * side                             # (N - 2, D)
    z1 = torch.cat([graded, away]) + 0.02 * torch.randn(n, d, generator=gen, dtype=torch.float64)
    z2 = e + 0.15 * torch.randn(n, d, generator=gen, dtype=torch.float64)
    return z1.float(), z2.float()


@check("stability")
def check_rows_with_different_logit_ranges_float32(learner, reference, device):
    why = ("each row's log-sum-exp must be shifted by that row's own maximum: a row whose logits all lie "
           "about 100 or more below the batch's largest logit underflows to log(0) in float32 when "
           "shifted by the batch's maximum")
    # D = 1: rows +1, +1, +1, -1; the last row's logits are all -100, the others' largest +100
    z1, z2 = torch.tensor([[1.0], [1.0]]), torch.tensor([[1.0], [-1.0]])
    got = loss_of(learner, z1, z2, 0.01, device).output
    assert_close(got, expected(reference, z1, z2, 0.01), f"loss of z1 = [[1], [1]], z2 = [[1], [-1]] "
                 f"(t=0.01, float32), where the logits of z2's row 1 (-1) are all -100 and every other row's largest is +100; {why}")
    z1, z2 = spread_rows()
    what = f"(t=0.01, float32, rows whose largest logits range from about 100 down to -30; {why})"
    LOSS.assert_grads_match(learner, reference, [z1, z2, 0.01], device, value_what=f"loss {what}")


@check("stability")
def check_near_identical_vectors(learner, reference, device):
    gen = torch.Generator().manual_seed(11)
    base = torch.randn(1, 64, generator=gen)
    z1 = base + 1e-4 * torch.randn(48, 64, generator=gen)
    z2 = base + 1e-4 * torch.randn(48, 64, generator=gen)
    for t in (0.01, 0.5):
        got = loss_of(learner, z1, z2, t, device).output
        assert_close(got, expected(reference, z1, z2, t), f"loss for near-identical vectors, t={t}",
                     rtol=1e-3, atol=1e-3)


@check("stability")
@examples(8)
@given(case=cases(n=st.integers(1, 16), d=st.integers(1, 32), dtype=st.just("float32")),
       scale=st.sampled_from([1e-6, 1e3, 1e6]))
def check_large_and_small_norms(learner, reference, device, case, scale):
    # rows get norms in [scale/2, 2*scale]: entries scaled as a whole could fall below the
    # 1e-8 norm floor of F.cosine_similarity, where "cosine" is no longer defined the same way
    gen = torch.Generator().manual_seed(case.seed + 1)
    z1, z2 = (z / z.norm(dim=1, keepdim=True).clamp_min(1e-30)
              * torch.empty(case.n, 1).uniform_(0.5, 2.0, generator=gen) * scale
              for z in case.tensors())
    got = loss_of(learner, z1, z2, case.temperature, device).output
    assert_close(got, expected(reference, z1, z2, case.temperature), f"loss for vectors scaled by {scale:g}",
                 rtol=1e-3, atol=1e-4)


# -- hygiene ----------------------------------------------------------------------
check_inputs_not_modified = LOSS.inputs_not_modified([("", [*Case(6, 5, 0.3, "float32", 5).tensors(), 0.3])])
check_dtype_device_and_0dim = LOSS.dtype_device_and_0dim(
    lambda dtype: [("", [torch.randn(4, 3, dtype=dtype), torch.randn(4, 3, dtype=dtype), 0.5])])
check_output_keeps_autograd_graph = LOSS.output_keeps_autograd_graph([("", [*Case(4, 6, 0.5, "float32", 9).tensors(), 0.5])])


# -- speed ------------------------------------------------------------------------
def _speed_args(n, rep_seed):
    gen = torch.Generator().manual_seed(rep_seed)
    return [torch.randn(n, SPEED_D, generator=gen), torch.randn(n, SPEED_D, generator=gen), 0.5]


check_speed_vs_reference = LOSS.speed_vs_reference(SPEED_SIZES, lambda n: f"N={n}, D={SPEED_D}", _speed_args,
                                                   max_ratio=SPEED_LIMIT)
