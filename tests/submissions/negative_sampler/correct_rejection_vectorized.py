"""Correct: vectorized rejection sampling (ranks among each anchor's valid candidates; slots that
repeat an earlier slot are redrawn, all rows at once; past K > n/2 the left-out ranks are drawn
instead), a stable argsort of the negated similarities, and a bucketize-based unigram sampler.

expect: pass
seed: 7
"""

import torch


def _validate_k(k):
    if k < 1:
        raise ValueError(f"num_negatives={k}: must be at least 1")


def _short_anchor(available, k):
    for_message = (available < k).nonzero()
    if len(for_message):
        i = for_message[0].item()
        raise ValueError(f"not enough negatives: anchor {i} has {available[i].item()} (< {k})")


def _distinct_ranks(available, want, width, generator):
    """(B, width): in row i, want[i] distinct uniform ranks in [0, available[i]), the rest -1, -2, ...

    Rejection: draw every active slot, then redraw the slots that repeat an earlier slot of their
    row, all rows at once, until no repeat is left. want <= available / 2, so this ends fast.
    """
    b, dev = available.shape[0], available.device
    slot = torch.arange(width, device=dev).expand(b, width)
    active = slot < want[:, None]
    filler = -1 - slot                                                # never equal to a rank
    ranks = filler
    bad = active
    while bad.any():
        u = torch.rand(b, width, dtype=torch.float64, generator=generator, device=dev)
        fresh = (u * available[:, None]).long().minimum(available[:, None] - 1)
        ranks = torch.where(bad, fresh, ranks)
        values, where = ranks.sort(dim=1, stable=True)
        repeat = torch.zeros_like(active)
        repeat[:, 1:] = values[:, 1:] == values[:, :-1]
        bad = torch.zeros_like(active).scatter(1, where, repeat)
    return ranks


def sample_negatives(labels, num_negatives, generator=None):
    _validate_k(num_negatives)
    if labels.dim() != 1:
        raise ValueError("labels: expected shape (B,)")
    b, k = labels.shape[0], num_negatives
    order = torch.argsort(labels, stable=True)
    grouped = labels[order]
    first = torch.searchsorted(grouped, labels)                       # own class: grouped[first:last]
    size = torch.searchsorted(grouped, labels, right=True) - first
    available = b - size
    _short_anchor(available, k)
    # where K is more than half the candidates, draw the ones to leave out instead
    flip = 2 * k > available
    ranks = _distinct_ranks(available, torch.where(flip, available - k, k), k, generator)
    if flip.any():
        rows = flip.nonzero().flatten()
        span = torch.arange(int(available.max()), device=labels.device)
        left_out = (span[None, :, None] == ranks[rows, None, :]).any(2)
        keep = (span[None, :] < available[rows, None]) & ~left_out    # exactly k per row
        ranks[rows] = keep.nonzero()[:, 1].view(-1, k)
    return order[ranks + size[:, None] * (ranks >= first[:, None])]


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    _validate_k(num_negatives)
    if similarity.dim() != 2 or tuple(similarity.shape) != (anchor_labels.numel(), candidate_labels.numel()):
        raise ValueError("similarity must be (len(anchor_labels), len(candidate_labels))")
    same = anchor_labels[:, None] == candidate_labels[None, :]
    _short_anchor(candidate_labels.numel() - same.sum(1), num_negatives)
    negated = (-similarity).masked_fill(same, float("inf"))         # ascending: best first
    return torch.argsort(negated, dim=1, stable=True)[:, :num_negatives]


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    if counts.dim() != 1 or counts.numel() < 1:
        raise ValueError("counts must be 1-D and non-empty")
    if num_samples < 1:
        raise ValueError("num_samples must be positive")
    if power != power or power < 0 or power == float("inf"):
        raise ValueError("power must be a finite non-negative number")
    c = counts.double()
    if not torch.isfinite(c).all() or (c < 0).any() or not (c > 0).any():
        raise ValueError("counts: need finite non-negative values, at least one positive")
    w = (c / c.max()).pow(power) * (c > 0)
    edges = torch.cumsum(w, 0)
    u = torch.rand(num_samples, dtype=torch.float64, generator=generator, device=c.device) * edges[-1]
    return torch.bucketize(u, edges, right=True).clamp(max=c.numel() - 1)
