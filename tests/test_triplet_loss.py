"""(exercises/triplet_loss/spec.md) The triplet_loss spec's numbers, recomputed with the reference, and its stated properties."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks.triplet_loss import WORKED_LABELS, WORKED_PAIRS, WORKED_X, brute_force
from grader.strategies import TripletCase, hinge_gap, triplet_cases
from solutions.triplet_loss import contrastive_pair_loss, pairwise_distances, triplet_loss


# -- the worked example ------------------------------------------------------------------
def test_worked_example_points_and_distances():
    assert WORKED_X.tolist() == [[0, 0], [6, 0], [0, 8], [6, 8], [3, 4]]
    assert WORKED_LABELS.tolist() == [0, 0, 1, 1, 2]
    d = pairwise_distances(WORKED_X)
    sides = {(0, 1): 6, (2, 3): 6, (0, 2): 8, (1, 3): 8, (0, 3): 10, (1, 2): 10}
    for (i, j), want in sides.items():
        assert d[i, j].item() == want
    assert all(d[i, 4].item() == 5 for i in range(4))


def test_worked_example_triplet_hinges():
    # each corner anchors three triplets with hinges 1, -1, 4; the centre anchors none
    d = pairwise_distances(WORKED_X).tolist()
    y = WORKED_LABELS.tolist()
    per_anchor = {}
    for a, p, n in itertools.product(range(5), repeat=3):
        if a != p and y[a] == y[p] and y[n] != y[a]:
            per_anchor.setdefault(a, []).append(d[a][p] - d[a][n] + 3.0)
    assert sorted(per_anchor) == [0, 1, 2, 3]
    assert all(sorted(h) == [-1.0, 1.0, 4.0] for h in per_anchor.values())


def test_worked_example_values():
    assert triplet_loss(WORKED_X, WORKED_LABELS, 3.0, "batch_all").item() == pytest.approx(2.5, abs=1e-12)
    assert triplet_loss(WORKED_X, WORKED_LABELS, 3.0, "batch_hard").item() == pytest.approx(4.0, abs=1e-12)
    # the conventions the spec contrasts: the mean over all 12 valid triplets, the centre as an anchor
    assert (4 * 1 + 4 * 4) / 12 == pytest.approx(1.6667, abs=1e-4)
    assert 16 / 5 == 3.2


def test_worked_example_pairs():
    x1, x2, same = WORKED_PAIRS
    assert torch.linalg.vector_norm(x1 - x2, dim=1).tolist() == pytest.approx([1.0, 0.5, 5.0, 0.0])
    assert same.tolist() == [True, False, False, False]
    assert contrastive_pair_loss(x1, x2, same, 1.0).item() == pytest.approx(0.28125, abs=1e-12)
    assert contrastive_pair_loss(x1, x2, ~same, 1.0).item() == pytest.approx(3.15625, abs=1e-12)


# -- the reference against an independent enumeration ---------------------------------------
@settings(max_examples=60, deadline=None, database=None)
@given(case=triplet_cases(b=st.integers(1, 10), d=st.integers(1, 5), classes=st.integers(1, 4),
                          dtype=st.just("float64")))
def test_reference_matches_brute_force(case):
    x, labels = case.tensors()
    got = triplet_loss(x, labels, case.margin, case.mining).item()
    assert got == pytest.approx(brute_force(x, labels, case.margin, case.mining), rel=1e-12, abs=1e-12)


# -- stated properties ----------------------------------------------------------------------
def test_identical_rows_are_exactly_zero_apart_with_gradient_zero():
    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        x = (torch.randn(40, 16, generator=gen) * 3 + 50).to(dtype)
        x[7] = x[3]
        x.requires_grad_(True)
        d = pairwise_distances(x)
        assert d[3, 7].item() == 0.0 and d.diagonal().abs().max().item() == 0.0
        (g,) = torch.autograd.grad(d[3, 7] + d.diagonal().sum(), x)
        assert torch.equal(g, torch.zeros_like(g))


def test_the_matrix_product_expansion_is_what_far_from_origin_catches():
    gen = torch.Generator().manual_seed(2100)
    x = (100.0 + torch.randn(32, 16, generator=gen, dtype=torch.float64) / 4).float()
    exact = pairwise_distances(x.double())
    assert (pairwise_distances(x).double() - exact).abs().max() < 1e-5
    assert (torch.cdist(x, x).double() - exact).abs().max() > 0.05


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard"])
def test_zero_is_attached_when_nothing_counts(mining):
    for labels in (torch.zeros(5, dtype=torch.long), torch.arange(5)):
        x = torch.randn(5, 3, requires_grad=True)
        loss = triplet_loss(x, labels, 0.2, mining)
        assert loss.item() == 0.0 and loss.requires_grad
        loss.backward()
        assert torch.equal(x.grad, torch.zeros_like(x))


def test_batch_hard_counts_satisfied_anchors_example():
    x = torch.tensor([[0.0], [0.1], [5.0], [5.2], [5.5]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1, 2])
    assert triplet_loss(x, labels, 0.5, "batch_hard").item() == pytest.approx((0 + 0 + 0.2 + 0.4) / 4, abs=1e-12)


@settings(max_examples=30, deadline=None, database=None)
@given(case=triplet_cases(b=st.integers(2, 16), d=st.integers(1, 8), dtype=st.just("float64")),
       factor=st.sampled_from([0.25, 3.0]))
def test_scaling_and_translation(case, factor):
    x, labels = case.tensors()
    base = triplet_loss(x, labels, case.margin, case.mining)
    scaled = triplet_loss(x * factor, labels, case.margin * factor, case.mining)
    assert scaled.item() == pytest.approx(factor * base.item(), rel=1e-9, abs=1e-12)
    shifted = triplet_loss(x + 7.0, labels, case.margin, case.mining)
    assert shifted.item() == pytest.approx(base.item(), rel=1e-9, abs=1e-12)


def test_pair_loss_is_quadratic_and_symmetric():
    gen = torch.Generator().manual_seed(1)
    x1 = torch.randn(20, 4, generator=gen, dtype=torch.float64)
    x2 = torch.randn(20, 4, generator=gen, dtype=torch.float64)
    same = torch.rand(20, generator=gen) < 0.5
    base = contrastive_pair_loss(x1, x2, same, 2.0).item()
    assert contrastive_pair_loss(x2, x1, same, 2.0).item() == pytest.approx(base, rel=1e-12)
    assert contrastive_pair_loss(3 * x1, 3 * x2, same, 6.0).item() == pytest.approx(9 * base, rel=1e-12)


# -- the kink filter the checks rely on -------------------------------------------------------
def _slow_gap(x, labels, margin, mining):
    d = [[math.dist(a, b) for b in x.double().tolist()] for a in x.double().tolist()]
    y, gaps = labels.tolist(), []
    for a in range(len(y)):
        pos = [d[a][p] for p in range(len(y)) if p != a and y[p] == y[a]]
        neg = [d[a][n] for n in range(len(y)) if y[n] != y[a]]
        if mining == "batch_all":
            gaps += [abs(dp - dn + margin) for dp in pos for dn in neg]
        elif pos and neg:
            pos, neg = sorted(pos, reverse=True), sorted(neg)
            gaps.append(abs(pos[0] - neg[0] + margin))
            gaps += [pos[0] - pos[1]] if len(pos) > 1 else []
            gaps += [neg[1] - neg[0]] if len(neg) > 1 else []
    return min(gaps, default=float("inf"))


@settings(max_examples=80, deadline=None, database=None)
@given(b=st.integers(1, 14), classes=st.integers(1, 5), margin=st.floats(0, 2),
       mining=st.sampled_from(["batch_all", "batch_hard"]), seed=st.integers(0, 2**31 - 1),
       duplicate=st.booleans())
def test_hinge_gap_matches_an_enumeration(b, classes, margin, mining, seed, duplicate):
    case = TripletCase(b, 3, classes, margin, mining, "float64", seed)
    labels = case.labels()
    x = torch.randn(b, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if duplicate and b > 2:
        x[1] = x[0]
    assert hinge_gap(x, labels, margin, mining) == pytest.approx(_slow_gap(x, labels, margin, mining), abs=1e-12)


def test_triplet_case_inputs_clear_the_gap():
    for seed in range(20):
        for mining in ("batch_all", "batch_hard"):
            case = TripletCase(24, 4, 5, 0.3, mining, "float32", seed)
            x, labels = case.tensors()
            assert hinge_gap(x, labels, 0.3, mining) >= 1e-5
            assert torch.equal(labels, case.labels())
