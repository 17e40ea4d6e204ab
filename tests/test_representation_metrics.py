"""The spec of representation_metrics (exercises/representation_metrics/spec.md): every number of its worked example, its closed forms
and its stability figures, recomputed with the reference."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from solutions.representation_metrics import alignment, effective_rank, uniformity

X = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]], dtype=torch.float64)
Y = torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)


def test_worked_example_alignment():
    u, v = F.normalize(X, dim=1), F.normalize(Y, dim=1)
    squared = (u - v).pow(2).sum(1)
    assert squared.tolist() == pytest.approx([0.5858, 0.0, 4.0], abs=5e-5)
    assert alignment(X, Y).item() == pytest.approx(1.52860, abs=5e-6)
    assert (u - v).norm(dim=1)[0].item() == pytest.approx(0.76537, abs=5e-6)
    assert alignment(X, Y, 1).item() == pytest.approx(0.92179, abs=5e-6)


def test_worked_example_uniformity():
    mean = (2 * math.exp(-4) + math.exp(-8)) / 3
    assert mean == pytest.approx(0.0123222, abs=5e-8)
    assert uniformity(X).item() == pytest.approx(math.log(mean), abs=1e-12)
    assert uniformity(X).item() == pytest.approx(-4.39635, abs=5e-6)
    u = F.normalize(X, dim=1)
    with_self = torch.exp(-2 * torch.cdist(u, u).pow(2)).mean().log()
    assert with_self.item() == pytest.approx(-1.07427, abs=5e-6)


def test_worked_example_effective_rank():
    assert torch.allclose(X.T @ X, torch.diag(torch.tensor([5.0, 9.0], dtype=torch.float64)))
    s = torch.linalg.svdvals(X)
    assert s.tolist() == pytest.approx([3.0, 2.23607], abs=5e-6)
    p = s / s.sum()
    assert p.tolist() == pytest.approx([0.57295, 0.42705], abs=5e-6)
    entropy = -(p * p.log()).sum().item()
    assert entropy == pytest.approx(0.68247, abs=5e-6)
    assert effective_rank(X).item() == pytest.approx(1.97875, abs=5e-6)
    assert effective_rank(X - X.mean(0)).item() == pytest.approx(1.98699, abs=5e-6)
    normalized = F.normalize(X, dim=1)
    assert torch.allclose(normalized.T @ normalized, torch.diag(torch.tensor([2.0, 1.0], dtype=torch.float64)))
    assert effective_rank(normalized).item() == pytest.approx(1.97063, abs=5e-6)


def test_closed_forms():
    for n, t in ((3, 2.0), (7, 0.5)):
        rows = torch.eye(n, dtype=torch.float64) * torch.arange(1, n + 1, dtype=torch.float64)[:, None]
        assert uniformity(rows, t).item() == pytest.approx(-2 * t, abs=1e-12)
        simplex = torch.eye(n, dtype=torch.float64) - 1.0 / n
        assert uniformity(simplex, t).item() == pytest.approx(-t * 2 * n / (n - 1), abs=1e-12)
        assert effective_rank(rows / torch.arange(1, n + 1, dtype=torch.float64)[:, None]).item() == \
            pytest.approx(n, abs=1e-12)
        same = torch.ones(n, 4, dtype=torch.float64)
        assert uniformity(same, t).item() == pytest.approx(0.0, abs=1e-12)
        assert effective_rank(same).item() == pytest.approx(1.0, abs=1e-12)
    x = torch.randn(6, 5, dtype=torch.float64)
    for alpha in (1.0, 2.0, 3.0):
        assert alignment(x, -x, alpha).item() == pytest.approx(2 ** alpha, abs=1e-12)
        assert alignment(x, 3 * x, alpha).item() == pytest.approx(0.0, abs=1e-7)
    u, _ = torch.linalg.qr(torch.randn(9, 3, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(7, 3, dtype=torch.float64))
    assert effective_rank(2.5 * u @ v.T).item() == pytest.approx(3.0, abs=1e-9)


def test_self_pairs_floor_is_log_one_over_n():
    # with the N self-pairs every value is at least log(1/N), however uniform the batch
    n = 8
    u = torch.eye(n, dtype=torch.float64)
    with_self = torch.exp(-50.0 * torch.cdist(u, u).pow(2)).mean().log().item()
    assert with_self >= math.log(1 / n) - 1e-12 and with_self == pytest.approx(math.log(1 / n), abs=1e-12)
    assert uniformity(u, 50.0).item() == pytest.approx(-100.0)


def test_float32_underflow_range_of_a_plain_log_mean_exp():
    tiny = torch.finfo(torch.float32).tiny
    assert math.exp(-4 * 21) > tiny > math.exp(-4 * 22)                   # exp(-4t) normal up to t = 21

    def plain(x, t):
        u = F.normalize(x, dim=1)
        off = ~torch.eye(x.shape[0], dtype=torch.bool)
        return torch.exp(-t * torch.cdist(u, u).pow(2)[off]).mean().log().item()

    antipodal = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])                   # d^2 = 4
    orthogonal = torch.eye(4)                                             # every d^2 = 2
    assert math.isfinite(plain(antipodal, 20.0)) and plain(antipodal, 26.0) == -math.inf
    assert math.isfinite(plain(orthogonal, 51.0)) and plain(orthogonal, 52.0) == -math.inf
    for x, t in ((antipodal, 26.0), (orthogonal, 52.0)):
        assert uniformity(x, t).item() == pytest.approx(uniformity(x.double(), t).item(), rel=1e-6)


def test_eigenvalue_route_figures():
    """The spec's figures for sqrt(eigvalsh(X^T X)) instead of svdvals."""
    gen = torch.Generator().manual_seed(0)

    def via_eigenvalues(m):
        s = torch.linalg.eigvalsh(m.T @ m).clamp_min(0).sqrt()
        p = s / s.sum()
        return torch.exp(-torch.special.xlogy(p, p).sum()).item()

    worst = 0.0
    for _ in range(20):
        u, _ = torch.linalg.qr(torch.randn(64, 3, generator=gen, dtype=torch.float64))
        v, _ = torch.linalg.qr(torch.randn(64, 3, generator=gen, dtype=torch.float64))
        worst = max(worst, abs(via_eigenvalues(u @ v.T) - 3.0))
    assert worst < 1e-5                                                  # within the float64 tolerance
    collapsed = torch.randn(1, 32, generator=gen).expand(48, 32).contiguous()
    assert effective_rank(collapsed).item() == pytest.approx(1.0, abs=1e-3)
    assert via_eigenvalues(collapsed) > 1.01                              # float32: clearly above 1
