"""(exercises/simsiam_loss/spec.md) simsiam_loss: the spec's worked example and stated properties, recomputed with the reference,
and the collapse experiment's calibration on a few of its seeds."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from grader.checks import simsiam_loss as checks
from solutions.simsiam_loss import simsiam_loss

P1 = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
P2 = torch.tensor([[2.0, 0.0], [4.0, 3.0]], dtype=torch.float64)
Z1 = torch.tensor([[0.0, 5.0], [3.0, 4.0]], dtype=torch.float64)
Z2 = torch.tensor([[3.0, 4.0], [0.0, -1.0]], dtype=torch.float64)


def test_worked_example_numbers():
    cos = F.cosine_similarity
    assert cos(P1, Z2, dim=1).tolist() == pytest.approx([0.6, -1.0])
    assert cos(P2, Z1, dim=1).tolist() == pytest.approx([0.0, 0.96])
    assert simsiam_loss(P1, P2, Z1, Z2).item() == pytest.approx(-0.14, abs=1e-12)


def test_worked_example_gradients():
    inputs = [t.clone().requires_grad_(True) for t in (P1, P2, Z1, Z2)]
    grads = torch.autograd.grad(simsiam_loss(*inputs), inputs, allow_unused=True)
    assert grads[0][0].tolist() == pytest.approx([0.0, -0.2], abs=1e-12)
    assert grads[2] is None and grads[3] is None


def test_gradient_formula_of_the_spec():
    gen = torch.Generator().manual_seed(3)
    p1, p2, z1, z2 = (torch.randn(5, 4, generator=gen, dtype=torch.float64) for _ in range(4))
    leaf = p1.clone().requires_grad_(True)
    (got,) = torch.autograd.grad(simsiam_loss(leaf, p2, z1, z2), [leaf])
    p_hat, z_hat = F.normalize(p1, dim=1), F.normalize(z2, dim=1)
    cos = (p_hat * z_hat).sum(1, keepdim=True)
    want = -(z_hat - cos * p_hat) / p1.norm(dim=1, keepdim=True) / (2 * 5)
    torch.testing.assert_close(got, want)


def test_range_and_minus_one_when_aligned():
    gen = torch.Generator().manual_seed(4)
    z1, z2 = torch.randn(6, 3, generator=gen), torch.randn(6, 3, generator=gen)
    assert simsiam_loss(3 * z2, 0.5 * z1, z1, z2).item() == pytest.approx(-1.0, abs=1e-6)
    assert simsiam_loss(-z2, -z1, z1, z2).item() == pytest.approx(1.0, abs=1e-6)


def test_output_spread_is_one_for_a_spread_and_zero_for_a_constant():
    gen = torch.Generator().manual_seed(5)
    spread = checks.output_spread(torch.randn(4096, 16, generator=gen, dtype=torch.float64))
    assert spread == pytest.approx(1.0, abs=0.03)
    assert checks.output_spread(torch.ones(64, 16) * torch.arange(1, 17)) == pytest.approx(0.0, abs=1e-6)


def _without_stop_gradient(p1, p2, z1, z2):
    return -(F.cosine_similarity(p1, z2, dim=1).mean() + F.cosine_similarity(p2, z1, dim=1).mean()) / 2


@pytest.mark.parametrize("seed", [13])   # the seed where the reference kept the least spread
def test_collapse_experiment_separates_the_stop_gradient(seed):
    kept = checks.collapse_experiment(checks.local_loss_grads(simsiam_loss), seed)
    collapsed = checks.collapse_experiment(checks.local_loss_grads(_without_stop_gradient), seed)
    assert kept >= checks.SPREAD_BAR + 0.2, kept
    assert collapsed <= checks.SPREAD_BAR - 0.15, collapsed


def test_quiz_answers_are_not_given_away_by_length():
    """The kit's quiz rule: the correct choice is not the longest one, and answers vary in position."""
    import tomllib
    from pathlib import Path

    bank = tomllib.loads((Path(__file__).parent.parent / "grader/quiz/simsiam_loss.toml").read_text())
    positions = set()
    for q in bank["questions"]:
        index = "ABCD".index(q["answer"])
        lengths = [len(c) for c in q["choices"]]
        assert lengths[index] < max(lengths), q["id"]
        positions.add(index)
    assert len(positions) >= 3
