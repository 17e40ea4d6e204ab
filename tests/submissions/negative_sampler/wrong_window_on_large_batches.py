"""Wrong: uniform on small batches, but from B = 2048 on it returns the first K valid items
after each anchor (cyclically): valid negatives, fast, and the same every call. The chi-square
distribution checks use smaller batches; the speed check times B = 4096, so the grader tests the
timed draws themselves, and runs the same coarse tests on one draw at that size in the
distribution category, so that --skip speed does not let this through.

expect: fail sample_negatives_speed, sample_negatives_uniform_large_batch
"""


import math

import torch


def _first_short(available, k):
    bad = torch.nonzero(available < k).flatten()
    if len(bad):
        i = bad[0].item()
        raise ValueError(f"anchor {i}: only {available[i].item()} candidates of another class, need {k}")


def sample_negatives(labels, num_negatives, generator=None):
    if labels.ndim != 1:
        raise ValueError("labels must be 1-D")
    if num_negatives < 1:
        raise ValueError("num_negatives must be >= 1")
    valid = labels.unsqueeze(0) != labels.unsqueeze(1)               # (B, B)
    _first_short(valid.sum(dim=1), num_negatives)
    if len(labels) >= 2048:
        return _next_valid_window(valid, num_negatives)
    keys = torch.rand(valid.shape, generator=generator, device=labels.device)
    keys = keys.masked_fill(~valid, -1.0)                              # invalid keys lose
    return keys.topk(num_negatives, dim=1).indices


def _next_valid_window(valid, k):
    """The first k valid items after each anchor, cyclically: valid, fast, and not random."""
    b = valid.shape[0]
    shift = (torch.arange(b)[:, None] + torch.arange(1, b + 1)[None, :]) % b       # (B, B) cyclic order
    ranked = valid.gather(1, shift).float()
    first = ranked.cumsum(1) <= k
    keys = (ranked * first).float() * (b - torch.arange(b, dtype=torch.float32))   # earlier valid first
    return shift.gather(1, keys.topk(k, dim=1).indices)


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    if similarity.ndim != 2 or similarity.shape != (len(anchor_labels), len(candidate_labels)):
        raise ValueError("similarity must be (B, M)")
    if num_negatives < 1:
        raise ValueError("num_negatives must be >= 1")
    valid = anchor_labels[:, None] != candidate_labels[None, :]
    _first_short(valid.sum(dim=1), num_negatives)
    scores = torch.where(valid, similarity, torch.full_like(similarity, -math.inf))
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    return order[:, :num_negatives]


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    if counts.ndim != 1 or counts.numel() == 0:
        raise ValueError("counts must be a non-empty vector")
    c = counts.to(torch.float64)
    if not bool(torch.isfinite(c).all()) or bool((c < 0).any()) or not bool((c > 0).any()):
        raise ValueError("counts must be finite, >= 0, with a positive entry")
    if num_samples < 1 or not math.isfinite(power) or power < 0:
        raise ValueError("bad num_samples or power")
    w = torch.zeros_like(c)
    w[c > 0] = (c[c > 0] / c.max()) ** power
    cdf = w.cumsum(0)
    cdf = cdf / cdf[-1]                                               # ends at exactly 1.0
    u = torch.rand(num_samples, generator=generator, device=c.device, dtype=torch.float64)
    return torch.searchsorted(cdf, u, right=True).clamp_(max=len(c) - 1)
