"""The debiased_losses reference against the spec (exercises/debiased_losses/spec.md): every number of its worked examples, the
closed forms and reductions it states, and lightly's DCLLoss where installed (in-process)."""

from __future__ import annotations

import importlib
import math
import warnings

import pytest
import torch

from solutions.debiased_losses import debiased_info_nce, decoupled_nt_xent
from solutions.info_nce import info_nce

with warnings.catch_warnings():   # the checks' category marks are registered by the grader, not here
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    from grader.checks import debiased_losses as checks

D = torch.float64


def rows(q, k, n, t, tau):
    """Per-query (p, s, corrected sum, clamp, Ng, loss) by the spec's formula, in plain float64."""
    q, k, n = (torch.nn.functional.normalize(x, dim=1) for x in (q, k, n))
    out = []
    for qi, ki in zip(q, k):
        p = float(qi @ ki) / t
        s = [float(qi @ nj) / t for nj in n]
        corrected = (sum(math.exp(x) for x in s) - tau * len(n) * math.exp(p)) / (1 - tau)
        floor = len(n) * math.exp(-1 / t)
        ng = max(corrected, floor)
        out.append((p, s, corrected, floor, ng, math.log(math.exp(p) + ng) - p))
    return out


def test_debiased_worked_example_numbers():
    q, k, n = checks.debiased_worked_example()
    (p0, s0, c0, f0, ng0, l0), (p1, s1, c1, f1, ng1, l1) = rows(q, k, n, 0.5, 0.1)
    assert p0 == pytest.approx(2) and s0 == pytest.approx([-2, 0, 0], abs=1e-12)
    assert sum(math.exp(x) for x in s0) == pytest.approx(2.135335, abs=1e-6)
    assert 0.3 * math.exp(2) == pytest.approx(2.216717, abs=1e-6)
    assert c0 == pytest.approx(-0.090424, abs=1e-6) and f0 == pytest.approx(0.406006, abs=1e-6)
    assert ng0 == f0 and l0 == pytest.approx(0.053490, abs=1e-6)
    assert p1 == pytest.approx(1.414214, abs=1e-6) and s1 == pytest.approx([0, -2, 2], abs=1e-12)
    assert sum(math.exp(x) for x in s1) == pytest.approx(8.524391, abs=1e-6)
    assert 0.3 * math.exp(p1) == pytest.approx(1.233975, abs=1e-6)
    assert ng1 == c1 == pytest.approx(8.100463, abs=1e-6)
    assert math.exp(p1) == pytest.approx(4.113250, abs=1e-6) and l1 == pytest.approx(1.088346, abs=1e-6)
    value = debiased_info_nce(q, k, n, 0.5, 0.1).item()
    assert value == pytest.approx((l0 + l1) / 2, abs=1e-12)
    assert value == pytest.approx(0.570918, abs=1e-6)
    assert value == pytest.approx(checks.DEBIASED_WORKED_VALUE, abs=1e-10)
    no_clamp_l0 = math.log(math.exp(2) + c0) - 2
    assert no_clamp_l0 == pytest.approx(-0.012313, abs=1e-6)
    assert (no_clamp_l0 + l1) / 2 == pytest.approx(0.538016, abs=1e-6)
    assert debiased_info_nce(q, k, n, 0.5, 0.0).item() == pytest.approx(0.688161, abs=1e-6)


def test_decoupled_worked_example_numbers():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=D)
    z2 = torch.tensor([[1.0, 1.0], [0.0, 2.0]], dtype=D)
    r = math.sqrt(2)
    anchors = [math.log(2) - r, math.log(1 + math.exp(r)) - 2, math.log(2 * math.exp(r)) - r,
               math.log(1 + math.exp(r)) - 2]
    assert anchors == pytest.approx([-0.721066, -0.368165, 0.693147, -0.368165], abs=1e-6)
    value = decoupled_nt_xent(z1, z2, 0.5).item()
    assert value == pytest.approx(sum(anchors) / 4, abs=1e-12)
    assert value == pytest.approx(-0.191062, abs=1e-6)
    assert value == pytest.approx(checks.DECOUPLED_WORKED_VALUE, abs=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_debiased_matches_the_formula_and_info_nce(seed):
    gen = torch.Generator().manual_seed(seed)
    b, m, d = 3 + seed, 7 - seed % 3, 5
    q = torch.randn(b, d, generator=gen, dtype=D)
    k = q + 0.2 * torch.randn(b, d, generator=gen, dtype=D)
    n = torch.randn(m, d, generator=gen, dtype=D)
    for t in (0.05, 0.2, 1.0):
        for tau in (0.0, 0.1, 0.4):
            want = sum(r[-1] for r in rows(q, k, n, t, tau)) / b
            assert debiased_info_nce(q, k, n, t, tau).item() == pytest.approx(want, rel=1e-10)
        assert debiased_info_nce(q, k, n, t, 0.0).item() == pytest.approx(info_nce(q, k, n, t).item(), rel=1e-12)


def test_debiased_clamp_binds_in_the_fixed_cases():
    # the correctness check's cases must have the clamp active for some queries and not for all
    for case in checks.CLAMP_CASES:
        active, total = checks.clamp_rows(case.args())
        assert 0 < active < total, (case, active, total)
        assert case.b != case.m


def test_debiased_stable_at_low_temperature_float32():
    for case in (checks.DebiasedCase(16, 48, 16, 0.01, 0.1, 0.05, "float32", 3, far=8),
                 checks.DebiasedCase(16, 48, 16, 0.01, 0.1, 3.0, "float32", 4)):
        args = case.args()
        inputs = [a.clone().requires_grad_(True) for a in args[:3]]
        loss = debiased_info_nce(*inputs, *args[3:])
        grads = torch.autograd.grad(loss, inputs)
        assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads)
        exact = debiased_info_nce(*[a.double() for a in args[:3]], *args[3:])
        assert abs(loss.item() - exact.item()) <= 1e-4 + 2e-4 * abs(exact.item())
    assert checks.clamp_rows(checks.DebiasedCase(16, 48, 16, 0.01, 0.1, 0.05, "float32", 3, far=8).args())[0] > 0


@pytest.mark.parametrize("cosine", [-0.9, 0.0, 0.5, 1.0])
@pytest.mark.parametrize("t", [0.01, 0.1, 1.0])
def test_closed_forms_on_orthonormal_features(cosine, t):
    basis, _ = torch.linalg.qr(torch.randn(12, 12, generator=torch.Generator().manual_seed(1), dtype=D))
    b = m = 3
    u, v, w = basis[:b], basis[b:2 * b], basis[2 * b:2 * b + m]
    pos = cosine * u + math.sqrt(1 - cosine**2) * v
    for tau in (0.0, 0.1, 0.3):
        ng = m * max((1 - tau * math.exp(cosine / t)) / (1 - tau), math.exp(-1 / t))
        want = math.log1p(ng * math.exp(-cosine / t))
        assert debiased_info_nce(u, pos, w, t, tau).item() == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert decoupled_nt_xent(u, pos, t).item() == pytest.approx(math.log(2 * b - 2) - cosine / t, rel=1e-10)


def test_decoupled_rejects_one_pair_and_can_be_negative():
    with pytest.raises(ValueError):
        decoupled_nt_xent(torch.randn(1, 3), torch.randn(1, 3))
    z = torch.randn(4, 8, dtype=D)
    assert decoupled_nt_xent(z, z, 0.1).item() < 0


def test_nan_hyperparameters_rejected():
    q, n = torch.randn(2, 3), torch.randn(4, 3)
    for t, tau in ((math.nan, 0.1), (0.5, math.nan), (0.5, 1.0), (0.5, -0.01), (0.0, 0.1)):
        with pytest.raises(ValueError):
            debiased_info_nce(q, q, n, t, tau)
    with pytest.raises(ValueError):
        decoupled_nt_xent(q, q, math.nan)


def test_decoupled_equals_lightly_and_half_the_two_direction_sum():
    try:
        from benchmarks.peers import Unavailable, _load_lightly_loss_module
        _load_lightly_loss_module()
        dcl = importlib.import_module("lightly.loss.dcl_loss")
    except Exception as exc:   # lightly missing, or its import chain broken here
        pytest.skip(f"lightly not importable: {exc}")
    gen = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=gen, dtype=D), torch.randn(6, 5, generator=gen, dtype=D)
    ours = decoupled_nt_xent(z1, z2, 0.1)
    assert ours.item() == pytest.approx(dcl.DCLLoss(temperature=0.1)(z1, z2).item(), rel=1e-12)
    a, b = torch.nn.functional.normalize(z1, dim=1), torch.nn.functional.normalize(z2, dim=1)

    def one_way(x, y):   # the summed-directions convention, written out
        eye = torch.eye(6, dtype=torch.bool)
        neg = torch.cat([(x @ x.T).masked_fill(eye, -math.inf), (x @ y.T).masked_fill(eye, -math.inf)], 1) / 0.1
        return (torch.logsumexp(neg, 1) - (x * y).sum(1) / 0.1).mean()

    assert (one_way(a, b) + one_way(b, a)).item() == pytest.approx(2 * ours.item(), rel=1e-12)
    del Unavailable
