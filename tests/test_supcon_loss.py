"""The numbers and identities that exercises/supcon_loss/spec.md states (its worked example
included), recomputed with the reference."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import supcon_loss as checks
from solutions.nt_xent import nt_xent
from solutions.supcon_loss import supcon_loss

D = torch.float64


def test_worked_example_intermediate_numbers():
    features, labels, t = checks.worked_example()
    z = F.normalize(features[:, 0], dim=1)
    assert torch.allclose(z, torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]], dtype=D))
    s = z @ z.T / t
    assert [s[0, 1], s[0, 2], s[0, 3], s[1, 2], s[1, 3], s[2, 3]] == pytest.approx([1.2, 0, -2, 1.6, -1.2, 0])
    lse = [math.log(math.exp(1.2) + 1 + math.exp(-2)), math.log(math.exp(1.2) + math.exp(1.6) + math.exp(-1.2)),
           math.log(1 + math.exp(1.6) + 1)]
    assert lse == pytest.approx([1.49413, 2.14877, 1.93918], abs=5e-6)
    per_anchor = [lse[0] - 0.6, lse[1] - 1.4, lse[2] - 0.8]
    assert per_anchor == pytest.approx([0.89413, 0.74877, 1.13918], abs=5e-6)
    assert sum(per_anchor) / 3 == pytest.approx(0.92736, abs=5e-6)
    l_in_anchor_0 = lse[0] - math.log((math.exp(1.2) + 1) / 2)
    assert l_in_anchor_0 == pytest.approx(0.72399, abs=5e-6)
    assert l_in_anchor_0 < per_anchor[0]


def test_worked_examples_with_the_reference():
    assert supcon_loss(*checks.worked_example()).item() == pytest.approx(checks.WORKED_VALUE, abs=1e-10)
    assert checks.WORKED_VALUE == pytest.approx(0.92736, abs=5e-6)
    features, labels, t = checks.simclr_example()
    assert supcon_loss(features, labels, t).item() == pytest.approx(checks.SIMCLR_VALUE, abs=1e-10)
    assert nt_xent(features[:, 0], features[:, 1], t).item() == pytest.approx(checks.SIMCLR_VALUE, abs=1e-10)
    assert checks.SIMCLR_VALUE == pytest.approx(0.63667, abs=5e-6)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 20), d=st.integers(1, 24), t=st.floats(0.01, 10.0), seed=st.integers(0, 2**31 - 1))
def test_two_views_without_labels_is_nt_xent(n, d, t, seed):
    gen = torch.Generator().manual_seed(seed)
    z1, z2 = torch.randn(n, d, generator=gen, dtype=D), torch.randn(n, d, generator=gen, dtype=D)
    assert supcon_loss(torch.stack([z1, z2], 1), None, t).item() == pytest.approx(nt_xent(z1, z2, t).item(),
                                                                                   rel=1e-10, abs=1e-12)


def _brute_force(features, labels, t):
    """Eq. (2) anchor by anchor, in plain Python over float64 numbers."""
    b, v, _ = features.shape
    rows = [(F.normalize(features[i, j], dim=0), labels[i].item()) for i in range(b) for j in range(v)]
    losses = []
    for a, (za, ya) in enumerate(rows):
        others = [k for k in range(len(rows)) if k != a]
        positives = [p for p in others if rows[p][1] == ya]
        if not positives:
            continue
        log_denominator = math.log(sum(math.exp(za.dot(rows[k][0]).item() / t) for k in others))
        losses.append(-sum(za.dot(rows[p][0]).item() / t - log_denominator for p in positives) / len(positives))
    return sum(losses) / len(losses)


@settings(max_examples=20, deadline=None)
@given(b=st.integers(2, 7), v=st.integers(1, 3), classes=st.integers(1, 4), t=st.floats(0.05, 5.0),
       seed=st.integers(0, 2**31 - 1))
def test_reference_is_equation_2_averaged_over_anchors_with_positives(b, v, classes, t, seed):
    gen = torch.Generator().manual_seed(seed)
    features = torch.randn(b, v, 3, generator=gen, dtype=D)
    labels = torch.randint(0, classes, (b,), generator=gen)
    labels[-1] = labels[0]
    assert supcon_loss(features, labels, t).item() == pytest.approx(_brute_force(features, labels, t), rel=1e-9)


def test_no_positive_and_bad_temperatures_raise():
    with pytest.raises(ValueError):
        supcon_loss(torch.randn(3, 1, 4))
    with pytest.raises(ValueError):
        supcon_loss(torch.randn(3, 1, 4), torch.tensor([5, -2, 9]))
    for t in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            supcon_loss(torch.randn(3, 2, 4), None, t)


def test_single_class_orthonormal_closed_form_and_its_lower_bound():
    # M orthonormal rows of one class: every anchor scores log(M - 1); in general a single class
    # scores at least log(M - 1) per anchor (log-sum-exp >= mean + log of the count)
    basis, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=D))
    features = basis.reshape(3, 2, 6)
    assert supcon_loss(features, torch.tensor([4, 4, 4]), 0.3).item() == pytest.approx(math.log(5), rel=1e-12)
    features = torch.randn(3, 2, 6, generator=torch.Generator().manual_seed(1), dtype=D)
    assert supcon_loss(features, torch.tensor([4, 4, 4]), 0.3).item() >= math.log(5)


def test_class_sum_identity_of_the_complexity_section():
    gen = torch.Generator().manual_seed(2)
    z = F.normalize(torch.randn(9, 5, generator=gen, dtype=D), dim=1)
    ids = torch.tensor([0, 1, 0, 2, 1, 0, 2, 2, 3])
    sums = torch.zeros(4, 5, dtype=D).index_add(0, ids, z)
    mask = (ids[:, None] == ids[None, :]) & ~torch.eye(9, dtype=torch.bool)
    direct = torch.where(mask, z @ z.T, 0.0).sum(1)
    assert torch.allclose(direct, (z * (sums[ids] - z)).sum(1), atol=1e-12)


def test_float32_stable_at_low_temperature_on_spread_out_rows():
    features = checks.spread_out_rows(6, 8).reshape(3, 2, 6).requires_grad_(True)
    cos = F.normalize(features.detach().reshape(6, 6).double(), dim=1) @ F.normalize(
        features.detach().reshape(6, 6).double(), dim=1).T
    assert torch.allclose(cos, torch.full((6, 6), -0.2, dtype=D).fill_diagonal_(1.0), atol=1e-6)
    loss = supcon_loss(features, torch.tensor([0, 0, 1]), 0.01)
    (grad,) = torch.autograd.grad(loss, features)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    # every logit equal: log(M - 1) for each anchor with a positive
    assert loss.item() == pytest.approx(math.log(5), rel=1e-4)
    # the trap the spec names: a row max that includes the anchor makes every other exp() underflow
    logits = cos.float() / 0.01
    shifted = logits - logits.max(dim=1, keepdim=True).values
    assert (torch.exp(shifted) * (1 - torch.eye(6))).sum(1).eq(0).all()
