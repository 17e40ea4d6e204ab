"""(exercises/moco_step/spec.md) moco_step: the spec's worked example and stated facts, recomputed with the reference."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from grader.checks import moco_step as checks
import solutions.moco_step as reference
from solutions.moco_step import moco_step


def test_worked_example_numbers():
    encoder_q, encoder_k, queue, x_q, x_k = checks._worked_example()
    loss, new_ptr = moco_step(encoder_q, encoder_k, queue, 2, x_q, x_k, 0.75, 0.5)
    torch.testing.assert_close(encoder_k[0].weight.detach(),
                               torch.tensor([[0.25, 0.75], [0.75, 0.25]], dtype=torch.float64))
    p = 2 / math.sqrt(10)
    assert p == pytest.approx(0.63246, abs=1e-5)
    sums = [math.exp(p) + 1 + math.exp(-2) + math.exp(1.2), math.exp(p) + math.exp(2) + 1 + math.exp(1.6)]
    assert sums == pytest.approx([6.33768, 15.22432], abs=1e-5)
    rows = [math.log(s) - p for s in sums]
    assert rows == pytest.approx([1.21406, 2.09044], abs=1e-5)
    assert loss.item() == pytest.approx(sum(rows) / 2, abs=1e-12)
    assert loss.item() == pytest.approx(1.65225, abs=1e-5) and loss.item() == pytest.approx(checks.WORKED_LOSS)
    assert new_ptr == 1 and isinstance(new_ptr, int)
    torch.testing.assert_close(queue, torch.tensor(checks.WORKED_QUEUE, dtype=torch.float64))
    assert queue[0].tolist() == pytest.approx([0.94868, 0.31623], abs=1e-5)


def _case(**kw):
    base = dict(sizes=(3, 5, 4), activation="tanh", batchnorm=True, dtype="float64", b=3, k=7, ptr=5,
                momentum=0.9, temperature=0.2, seed=3)
    return checks.MocoCase(**{**base, **kw})


def test_parameters_follow_the_momentum_update_and_buffers_their_own_forward():
    case = _case()
    encoder_q, encoder_k = case.encoder(0).module(), case.encoder(1).module()
    before_q = {n: p.detach().clone() for n, p in encoder_q.named_parameters()}
    before_k = {n: p.detach().clone() for n, p in encoder_k.named_parameters()}
    reference_k = case.encoder(1).module()
    queue, x_q, x_k = case.tensors()
    moco_step(encoder_q, encoder_k, queue, case.ptr, x_q, x_k, case.momentum, case.temperature)
    for name, p in encoder_k.named_parameters():
        torch.testing.assert_close(p.detach(), 0.9 * before_k[name] + 0.1 * before_q[name])
    for name, p in encoder_q.named_parameters():
        assert torch.equal(p.detach(), before_q[name])
    # buffers: what encoder_k's own forward pass on x_k does to them, after the parameter update
    with torch.no_grad():
        reference_k.load_state_dict({**reference_k.state_dict(),
                                     **{n: p for n, p in encoder_k.named_parameters()}})
        reference_k(x_k)
    for name, b in encoder_k.named_buffers():
        torch.testing.assert_close(b, dict(reference_k.named_buffers())[name])


def test_wrap_around_rows_and_pointer():
    case = _case(batchnorm=False)
    queue, x_q, x_k = case.tensors()
    before = queue.clone()
    _, new_ptr = moco_step(case.encoder(0).module(), case.encoder(1).module(), queue, 5, x_q, x_k, 0.9, 0.2)
    assert new_ptr == 1
    assert [i for i in range(7) if not torch.equal(queue[i], before[i])] == [0, 5, 6]
    torch.testing.assert_close(queue.norm(dim=1), torch.ones(7, dtype=torch.float64))


def test_backward_works_after_the_enqueue_and_reaches_encoder_q_only():
    case = _case(batchnorm=False)
    encoder_q, encoder_k = case.encoder(0).module(), case.encoder(1).module()
    queue, x_q, x_k = case.tensors()
    loss, _ = moco_step(encoder_q, encoder_k, queue, 0, x_q, x_k, 0.9, 0.2)
    loss.backward()
    assert all(p.grad is not None for p in encoder_q.parameters())
    assert all(p.grad is None for p in encoder_k.parameters())
    assert not queue.requires_grad


def test_queue_detach_without_a_copy_breaks_backward_as_the_spec_says():
    q = torch.randn(3, 4, requires_grad=True)
    queue = F.normalize(torch.randn(6, 4), dim=1)
    logits = q @ queue.detach().T
    queue[:3] = 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        logits.sum().backward()


def test_the_order_checks_tell_the_variants_apart():
    """The late update and the early enqueue give losses other than the reference's."""
    case = _case(batchnorm=False, momentum=0.9)
    right = checks.reference_step(reference, case)[0]
    late = checks.reference_step(reference, case, momentum=1.0, temperature=case.temperature)[0]
    assert abs(right.item() - late.item()) > 1e-6


def test_quiz_answers_are_not_given_away_by_length():
    import tomllib
    from pathlib import Path

    bank = tomllib.loads((Path(__file__).parent.parent / "grader/quiz/moco_step.toml").read_text())
    positions = set()
    for q in bank["questions"]:
        index = "ABCD".index(q["answer"])
        lengths = [len(c) for c in q["choices"]]
        assert lengths[index] < max(lengths), q["id"]
        positions.add(index)
    assert len(positions) >= 3
