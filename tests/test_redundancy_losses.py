"""The redundancy_losses reference against the spec (exercises/redundancy_losses/spec.md): every number of its worked example, the
closed forms and conventions it states, the released code's formulas written out, and lightly's
losses where installed (in-process)."""

from __future__ import annotations

import importlib
import math
import warnings

import pytest
import torch

from solutions.redundancy_losses import barlow_twins_loss, vicreg_loss

with warnings.catch_warnings():   # the checks' category marks are registered by the grader, not here
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    from grader.checks import redundancy_losses as checks

D = torch.float64


def test_barlow_twins_worked_example_numbers():
    z1, z2 = checks.worked_example()
    assert z1.mean(0).tolist() == [0, 0] and z2.mean(0).tolist() == [0, 0]
    assert z1.var(0, unbiased=False).tolist() == [1, 0.5] and z2.var(0, unbiased=False).tolist() == [1, 3]
    # without the eps
    a, b = z1 / z1.std(0, unbiased=False), z2 / z2.std(0, unbiased=False)
    c = a.T @ b / 4
    assert c.flatten().tolist() == pytest.approx([1, 1 / math.sqrt(3), 0, math.sqrt(2 / 3)], abs=1e-12)
    assert c[0, 1].item() == pytest.approx(0.57735, abs=1e-5) and c[1, 1].item() == pytest.approx(0.81650, abs=1e-5)
    assert (1 - math.sqrt(2 / 3)) ** 2 == pytest.approx(0.033674, abs=1e-6)
    approx = (1 - math.sqrt(2 / 3)) ** 2 + 0.005 / 3
    assert 0.005 / 3 == pytest.approx(0.0016667, abs=1e-7) and approx == pytest.approx(0.035340, abs=1e-6)
    # with the eps: each C_ij scaled by 1 / sqrt((1 + eps / var_i)(1 + eps / var_j))
    v1, v2 = z1.var(0, unbiased=False), z2.var(0, unbiased=False)
    shrink = 1 / torch.sqrt((1 + 1e-5 / v1)[:, None] * (1 + 1e-5 / v2)[None, :])
    ce = c * shrink
    want = (1 - ce.diagonal()).pow(2).sum() + 0.005 * (ce.pow(2).sum() - ce.diagonal().pow(2).sum())
    got = barlow_twins_loss(z1, z2).item()
    assert got == pytest.approx(want.item(), rel=1e-12)
    assert got == pytest.approx(0.0353436, abs=1e-7)
    assert got == pytest.approx(checks.BT_WORKED_VALUE, abs=1e-10)


def test_vicreg_worked_example_numbers():
    z1, z2 = checks.worked_example()
    assert ((z1 - z2) ** 2).mean().item() == 0.75
    assert z1.var(0).tolist() == pytest.approx([4 / 3, 2 / 3]) and z2.var(0).tolist() == pytest.approx([4 / 3, 4])
    stds = [math.sqrt(v + 1e-4) for v in (4 / 3, 2 / 3, 4 / 3, 4)]
    assert stds == pytest.approx([1.15474, 0.81656, 1.15474, 2.00002], abs=1e-5)
    hinge = 1 - math.sqrt(2 / 3 + 1e-4)
    assert hinge == pytest.approx(0.18344, abs=1e-5)
    variance = (hinge / 2 + 0) / 2
    assert variance == pytest.approx(0.045861, abs=1e-6)
    x, y = z1 - z1.mean(0), z2 - z2.mean(0)
    assert (x.T @ x / 3).flatten().tolist() == pytest.approx([4 / 3, 0, 0, 2 / 3])
    assert (y.T @ y / 3).flatten().tolist() == pytest.approx([4 / 3, 4 / 3, 4 / 3, 4])
    covariance = 0 + 2 * (4 / 3) ** 2 / 2
    assert covariance == pytest.approx(1.777778, abs=1e-6)
    assert 25 * variance == pytest.approx(1.146513, abs=1e-6)
    total = 25 * 0.75 + 25 * variance + covariance
    got = vicreg_loss(z1, z2).item()
    assert got == pytest.approx(total, rel=1e-12)
    assert got == pytest.approx(21.674291, abs=1e-6)
    assert got == pytest.approx(checks.VICREG_WORKED_VALUE, abs=1e-9)
    assert 1 - math.sqrt(0.5 + 1e-4) == pytest.approx(0.29282, abs=1e-5)   # the biased variance's hinge
    assert 1 - 2 / 3 == pytest.approx(0.33333, abs=1e-5)                    # a hinge on the variance


def released_vicreg(x, y, sim, std, cov, eps=1e-4):
    """main_vicreg.py's VICReg.forward on one process, written out with its own divisors."""
    n, d = x.shape
    repr_loss = torch.nn.functional.mse_loss(x, y)
    x, y = x - x.mean(dim=0), y - y.mean(dim=0)
    std_x, std_y = torch.sqrt(x.var(dim=0) + eps), torch.sqrt(y.var(dim=0) + eps)
    std_loss = torch.mean(torch.relu(1 - std_x)) / 2 + torch.mean(torch.relu(1 - std_y)) / 2
    cov_x, cov_y = (x.T @ x) / (n - 1), (y.T @ y) / (n - 1)
    off = ~torch.eye(d, dtype=torch.bool)
    cov_loss = cov_x[off].pow(2).sum() / d + cov_y[off].pow(2).sum() / d
    return sim * repr_loss + std * std_loss + cov * cov_loss


def released_barlow_twins(z1, z2, lambd):
    """main.py's BarlowTwins.forward: BatchNorm1d(affine=False) in training mode, C / batch size."""
    bn = torch.nn.BatchNorm1d(z1.shape[1], affine=False).double().train()
    c = bn(z1).T @ bn(z2) / z1.shape[0]
    off = ~torch.eye(z1.shape[1], dtype=torch.bool)
    return (torch.diagonal(c) - 1).pow(2).sum() + lambd * c[off].pow(2).sum()


@pytest.mark.parametrize("seed", range(5))
def test_matches_the_released_code(seed):
    for views in checks.VIEWS:
        z1, z2 = checks.PairCase(3 + 5 * seed, 1 + 3 * seed, views, "float64", seed).tensors()
        assert barlow_twins_loss(z1, z2, 0.0051).item() == pytest.approx(
            released_barlow_twins(z1, z2, 0.0051).item(), rel=1e-12, abs=1e-15)
        for coeffs in ((25.0, 25.0, 1.0, 1e-4), (1.0, 3.0, 0.5, 1e-3)):
            assert vicreg_loss(z1, z2, *coeffs).item() == pytest.approx(released_vicreg(z1, z2, *coeffs).item(),
                                                                        rel=1e-12)


@pytest.mark.parametrize("variance", [0.04, 0.25, 0.81, 1.44])
def test_vicreg_closed_form_for_identical_orthogonal_features(variance):
    n, d = 7, 3
    basis, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(2), dtype=D))
    ones = torch.ones(n, 1, dtype=D) / math.sqrt(n)
    cols, _ = torch.linalg.qr(basis - ones @ (ones.T @ basis))
    z = cols[:, :d] * math.sqrt(variance * (n - 1)) + 5.0
    assert z.var(0).tolist() == pytest.approx([variance] * d, rel=1e-12)
    assert vicreg_loss(z, z.clone(), 25.0, 7.0, 1.0, 1e-4).item() == pytest.approx(
        7.0 * max(0.0, 1 - math.sqrt(variance + 1e-4)), rel=1e-9, abs=1e-12)


def test_constant_feature_adds_exactly_one_and_stays_finite():
    gen = torch.Generator().manual_seed(3)
    z1 = torch.randn(8, 3, generator=gen, dtype=D)
    z2 = z1.clone()
    z1[:, 1] = 2.0
    z = z1.clone().requires_grad_(True)
    loss = barlow_twins_loss(z, z2, 0.0)
    (g,) = torch.autograd.grad(loss, z)
    assert torch.isfinite(g).all()
    var = z2.var(0, unbiased=False)
    others = sum((1 - var[j] / (var[j] + 1e-5)) ** 2 for j in (0, 2))
    assert loss.item() == pytest.approx(1 + others.item(), rel=1e-12)


def test_validation():
    z = torch.randn(4, 3)
    for bad in (-0.1, math.nan):
        with pytest.raises(ValueError):
            barlow_twins_loss(z, z, bad)
        for i in range(4):
            coeffs = [25.0, 25.0, 1.0, 1e-4]
            coeffs[i] = bad
            with pytest.raises(ValueError):
                vicreg_loss(z, z, *coeffs)
    for fn in (barlow_twins_loss, vicreg_loss):
        with pytest.raises(ValueError):
            fn(torch.randn(1, 3), torch.randn(1, 3))
        with pytest.raises(ValueError):
            fn(torch.randn(4, 3), torch.randn(4, 2))


def test_small_batches_separate_the_variance_conventions():
    # the correctness check's small, near-identical cases: a biased/unbiased swap moves the loss
    # far beyond float64's tolerance
    for n in (2, 3, 4, 8, 16):
        z1, z2 = checks.PairCase(n, 5, "near", "float64", 40 + n).tensors()
        right = released_barlow_twins(z1, z2, 5e-3).item()
        a, b = ((z - z.mean(0)) / torch.sqrt(z.var(0) + 1e-5) for z in (z1, z2))   # unbiased
        c = a.T @ b / n
        wrong = ((1 - c.diagonal()).pow(2).sum() + 5e-3 * (c.pow(2).sum() - c.diagonal().pow(2).sum())).item()
        assert abs(wrong - right) > 1e-3 * abs(right) + 1e-6


def test_matches_lightly():
    try:
        from benchmarks.peers import _load_lightly_loss_module
        _load_lightly_loss_module()
        bt = importlib.import_module("lightly.loss.barlow_twins_loss")
        vr = importlib.import_module("lightly.loss.vicreg_loss")
    except Exception as exc:   # lightly missing, or its import chain broken here
        pytest.skip(f"lightly not importable: {exc}")
    for seed in range(3):
        z1, z2 = checks.PairCase(6 + seed, 4 + seed, "near", "float64", seed).tensors()
        assert barlow_twins_loss(z1, z2).item() == pytest.approx(bt.BarlowTwinsLoss()(z1, z2).item(), rel=1e-12)
        assert vicreg_loss(z1, z2).item() == pytest.approx(vr.VICRegLoss()(z1, z2).item(), rel=1e-12)
