"""(exercises/grad_cache_step/spec.md) grad_cache_step: the spec's worked example and stated facts, recomputed with the reference."""

from __future__ import annotations

import math

import pytest
import torch

from grader.checks import grad_cache_step as checks
from solutions.grad_cache_step import grad_cache_step


def test_worked_example_numbers():
    a = 1 / math.sqrt(2)
    rows = [math.log(math.e + math.exp(a)) - 1, math.log(1 + math.exp(a)) - a]
    assert [math.e + math.exp(a), 1 + math.exp(a)] == pytest.approx([4.74640, 3.02811], abs=1e-5)
    assert rows == pytest.approx([0.55739, 0.40083], abs=1e-5)
    encoder = checks._worked_encoder()
    x1, x2 = torch.tensor(checks.WORKED_X1, dtype=torch.float64), torch.tensor(checks.WORKED_X2, dtype=torch.float64)
    loss = grad_cache_step(encoder, x1, x2, checks.info_nce(1.0), 1)
    assert isinstance(loss, float)
    assert loss == pytest.approx(sum(rows) / 2, abs=1e-12) and loss == pytest.approx(0.47911, abs=1e-5)
    assert loss == pytest.approx(checks.WORKED_LOSS, abs=1e-7)
    full = checks._worked_encoder()
    want = torch.autograd.grad(checks.info_nce(1.0)(full(x1), full(x2)), list(full.parameters()))
    for p, g in zip(encoder.parameters(), want):
        torch.testing.assert_close(p.grad, g)


def _largest_grad_batch(module):
    seen = []
    def record(layer, inputs):
        if torch.is_grad_enabled():
            seen.append(len(inputs[0]))

    module[0].register_forward_pre_hook(record)
    return seen


@pytest.mark.parametrize("n, chunk", [(1, 1), (7, 3), (8, 8), (5, 9)])
def test_reference_gives_the_full_batch_gradient_within_the_memory_rule(n, chunk):
    case = checks.CacheCase((4, 6, 3), "tanh", "float64", n, chunk, 0.3, True, 11)
    module = case.encoder.module()
    before = case.grads_before(module)
    for name, p in module.named_parameters():
        p.grad = before[name].clone()
    seen = _largest_grad_batch(module)
    x1, x2 = case.inputs()
    loss = grad_cache_step(module, x1, x2, checks.info_nce(0.3), chunk)
    want_loss, want = checks.full_batch(case)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    for name, p in module.named_parameters():
        torch.testing.assert_close(p.grad, want[name])
    assert seen and max(seen) <= chunk


def test_plain_accumulation_is_another_gradient():
    case = checks.CacheCase((4, 6, 3), "tanh", "float64", 8, 2, 0.5, False, 3)
    _, want = checks.full_batch(case)
    plain = checks.accumulated(case)
    assert any(not torch.allclose(plain[n], want[n], rtol=1e-3) for n in want)


def test_inference_tensors_must_be_cloned_as_the_spec_says():
    layer = torch.nn.Linear(3, 2)
    with torch.inference_mode():
        e = layer(torch.randn(4, 3))
    with pytest.raises(RuntimeError):
        e.requires_grad_(True)
    assert e.clone().requires_grad_(True).requires_grad


def test_the_checks_loss_is_the_childs():
    """grader/child.py's loss_fn and this module's info_nce are one loss (tests/test_child_modules.py
    checks the child's against the same formula)."""
    e1, e2 = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    logits = torch.nn.functional.normalize(e1, dim=1) @ torch.nn.functional.normalize(e2, dim=1).T / 0.2
    torch.testing.assert_close(checks.info_nce(0.2)(e1, e2), torch.nn.functional.cross_entropy(logits, torch.arange(5)))


def test_quiz_answers_are_not_given_away_by_length():
    import tomllib
    from pathlib import Path

    bank = tomllib.loads((Path(__file__).parent.parent / "grader/quiz/grad_cache_step.toml").read_text())
    positions = set()
    for q in bank["questions"]:
        index = "ABCD".index(q["answer"])
        lengths = [len(c) for c in q["choices"]]
        assert lengths[index] < max(lengths), q["id"]
        positions.add(index)
    assert len(positions) >= 3
