"""Correct: multinomial without replacement over masked weights, topk with an explicit repair of
ties for hard negatives, and torch.multinomial for the unigram.

expect: pass
seed: 5
"""

import torch


def _check_k(k):
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"num_negatives must be a positive int, got {k}")


def _enough(valid, k):
    have = valid.sum(1)
    short = (have < k).nonzero()
    if short.numel() > 0:
        i = int(short[0])
        raise ValueError(f"anchor {i} has {int(have[i])} negatives available but {k} were requested")


def sample_negatives(labels, num_negatives, generator=None):
    _check_k(num_negatives)
    if labels.dim() != 1:
        raise ValueError("labels must have shape (B,)")
    valid = labels[:, None] != labels[None, :]
    _enough(valid, num_negatives)
    return torch.multinomial(valid.double(), num_negatives, replacement=False, generator=generator)


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    _check_k(num_negatives)
    B, M = anchor_labels.shape[0], candidate_labels.shape[0]
    if similarity.dim() != 2 or similarity.shape[0] != B or similarity.shape[1] != M:
        raise ValueError(f"similarity shape {tuple(similarity.shape)} does not match ({B}, {M})")
    valid = anchor_labels[:, None] != candidate_labels[None, :]
    _enough(valid, num_negatives)
    k = num_negatives
    s = similarity.masked_fill(~valid, float("-inf"))
    kth = s.topk(k, dim=1).values[:, -1:]                             # (B, 1)
    above = s > kth                                                  # surely selected
    at = s == kth                                                    # smallest indices fill up
    room = k - above.sum(1, keepdim=True)
    chosen = above | (at & (at.cumsum(1) <= room))                   # exactly k per row
    idx = chosen.nonzero()[:, 1].view(B, k)                          # ascending index per row
    order = s.gather(1, idx).sort(dim=1, descending=True, stable=True).indices
    return idx.gather(1, order)


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    if counts.dim() != 1 or len(counts) == 0:
        raise ValueError("counts must be (V,) with V >= 1")
    if num_samples < 1:
        raise ValueError("num_samples must be >= 1")
    if not (power >= 0) or power == float("inf"):
        raise ValueError("power must be finite and >= 0")
    c = counts.double()
    if torch.isnan(c).any() or torch.isinf(c).any() or (c < 0).any() or c.sum() == 0:
        raise ValueError("counts must be finite, non-negative and not all zero")
    weights = torch.where(c > 0, c.pow(power), torch.zeros_like(c))
    return torch.multinomial(weights, num_samples, replacement=True, generator=generator)
