"""The spec of retrieval_metrics (exercises/retrieval_metrics/spec.md): every number of its worked example recomputed with the
reference, the tie rule, and the sandbox's memory budget that the memory check relies on."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from grader.checks.retrieval_metrics import knn_accepted, mrr_bounds, rank_brackets, recall_bounds, worked_example
from grader.sandbox import ChildProcess, Learner, LearnerRaised
from solutions.retrieval_metrics import first_relevant_ranks, knn_classify, mean_reciprocal_rank, recall_at_k


def test_worked_example_cosines_and_ranks():
    query, gallery, ql, gl = worked_example()
    cos = F.normalize(query, dim=1) @ F.normalize(gallery, dim=1).T
    expected = [[0.8944, 0.4472, 0.9487, -0.8944], [0.7071, -0.7071, 0.0, -0.7071],
                [0.0, 1.0, 0.7071, 0.0], [-0.7071, 0.7071, 0.0, 0.7071]]
    assert cos.tolist() == [pytest.approx(row, abs=5e-5) for row in expected]
    assert cos[3, 1] == cos[3, 3]                                  # an exact tie in float32
    assert first_relevant_ranks(query, gallery, ql, gl).tolist() == [1, 2, 0, 2]
    assert recall_at_k(query, gallery, ql, gl, ks=(1, 2, 3)) == {1: 0.25, 2: 0.75, 3: 0.75}
    assert mean_reciprocal_rank(query, gallery, ql, gl) == pytest.approx(0.5)
    # ties in the query's favour would give recall@1 = 0.5
    best = cos.masked_fill(ql[:, None] != gl[None], -math.inf).amax(1, keepdim=True)
    optimistic = 1 + ((cos > best) & (ql[:, None] != gl[None])).sum(1)
    assert ((optimistic == 1) & (best.squeeze(1) > -math.inf)).float().mean().item() == 0.5


def test_worked_example_exclude_self():
    _, gallery, _, gl = worked_example()
    assert first_relevant_ranks(gallery, gallery, gl, gl, exclude_self=True).tolist() == [3, 1, 2, 3]
    assert recall_at_k(gallery, gallery, gl, gl, ks=(1, 2), exclude_self=True) == {1: 0.25, 2: 0.5}
    assert mean_reciprocal_rank(gallery, gallery, gl, gl, exclude_self=True) == pytest.approx(13 / 24)
    assert 13 / 24 == pytest.approx(0.54167, abs=5e-6)
    assert recall_at_k(gallery, gallery, gl, gl, ks=(1,)) == {1: 1.0}
    assert mean_reciprocal_rank(gallery, gallery, gl, gl) == 1.0


def test_worked_example_knn():
    _, gallery, _, gl = worked_example()
    x = F.normalize(torch.tensor([[1.0, 0.1]], dtype=torch.float64), dim=1)
    cos = (x @ F.normalize(gallery.double(), dim=1).T)[0]
    assert cos.tolist() == pytest.approx([0.9950, 0.0995, 0.7740, -0.9950], abs=5e-5)
    w = torch.exp(cos / 0.1)
    assert w[0].item() == pytest.approx(20960, rel=5e-5)
    assert w[2].item() == pytest.approx(2297, rel=5e-4) and w[1].item() == pytest.approx(2.7, abs=0.05)
    for test, k, want in (([[1.0, 0.1]], 3, 0), ([[-1.0, 1.0]], 2, 0), ([[2.0, 1.0]], 2, 1)):
        assert knn_classify(gallery, gl, torch.tensor(test), k=k, temperature=0.1).tolist() == [want]


def test_reference_lies_within_the_graders_brackets():
    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        q, g = torch.randn(60, 6, generator=gen).to(dtype), torch.randn(80, 6, generator=gen).to(dtype)
        ql, gl = torch.randint(0, 5, (60,), generator=gen), torch.randint(0, 4, (80,), generator=gen)
        found, lo, hi = rank_brackets(q, g, ql, gl, False, 0.0)
        assert torch.equal(lo, hi)
        ranks = first_relevant_ranks(q, g, ql, gl)
        assert torch.equal(torch.where(found, lo, 0), ranks)
        got = recall_at_k(q, g, ql, gl, ks=(1, 4))
        for k in (1, 4):
            low, high = recall_bounds(found, lo, hi, k)
            assert low == pytest.approx(got[k]) == pytest.approx(high)
        assert mrr_bounds(found, lo, hi)[0] == pytest.approx(mean_reciprocal_rank(q, g, ql, gl))
        train, tl, test = g, gl, q
        accepted = knn_accepted(train, tl, test, 7, 0.07, 1e-12)
        assert all(p in ok for p, ok in zip(knn_classify(train, tl, test, k=7).tolist(), accepted))


def test_collapsed_features_score_no_better_than_chance():
    same = torch.ones(20, 4)
    labels = torch.arange(20) % 4
    ranks = first_relevant_ranks(same, same, labels, labels, exclude_self=True)
    assert ranks.tolist() == [16] * 20            # behind all 15 others of other classes
    assert recall_at_k(same, same, labels, labels, ks=(1, 10), exclude_self=True) == {1: 0.0, 10: 0.0}


def test_float32_overflow_of_raw_knn_weights():
    assert math.isinf(torch.exp(torch.tensor(1.0) / 0.01).item())
    assert math.isfinite(torch.exp(torch.tensor(1.0) / 0.012).item())


def test_memory_budget_caps_one_call_and_is_lifted_after_it(tmp_path):
    sub = tmp_path / "alloc.py"
    sub.write_text("import torch\n\ndef alloc(n):\n    return torch.ones(n // 4).sum().item()\n")
    child = ChildProcess(sub)
    try:
        assert child.start().ok
        learner = Learner(child, "cpu")
        assert learner.call("alloc", 32 * 2**20, memory_budget=64 * 2**20).output == 8 * 2**20
        with pytest.raises(LearnerRaised) as raised:
            learner.call("alloc", 256 * 2**20, memory_budget=64 * 2**20)
        assert raised.value.kind == "memory"
        assert learner.call("alloc", 256 * 2**20).output == 64 * 2**20
    finally:
        child.close()


def test_memory_budget_follows_live_memory_over_many_chunks(tmp_path):
    """Many 8 MiB blocks allocated and freed in turn stay within a 32 MiB budget (glibc's
    dynamic mmap threshold would serve them from a heap that keeps growing)."""
    sub = tmp_path / "chunks.py"
    sub.write_text("import torch\n\ndef run(rounds):\n    total = 0.0\n    for i in range(rounds):\n"
                   "        a = torch.full((2**21,), float(i))\n        b = a * 2\n        total += (b - a).sum().item()\n"
                   "    return total\n")
    child = ChildProcess(sub)
    try:
        assert child.start().ok
        learner = Learner(child, "cpu")
        learner.call("run", 1, memory_budget=None)
        assert learner.call("run", 200, memory_budget=32 * 2**20).output == float(sum(range(200))) * 2**21
    finally:
        child.close()


def test_worked_example_is_the_checks_example():
    spec = (Path(__file__).resolve().parent.parent / "exercises" / "retrieval_metrics" / "spec.md").read_text()
    assert "13/24 = 0.54167" in spec and "`MRR = (1 + 1/2 + 0 + 1/2) / 4 = 0.5`" in spec
