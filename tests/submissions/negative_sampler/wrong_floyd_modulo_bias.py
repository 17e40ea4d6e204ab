"""Bug: Floyd's algorithm with t = randint(0, B) % (top + 1), a modulo-reduced draw. Unless top + 1
divides the batch size B, the small residues come up once more often than the others: t is biased
towards small ranks by about top / B. Distinct and valid, and on large batches the bias is too small
to see; on small batches with few candidates per row it is large. With labels [0, 0, 1, 2] and K = 2,
row 2 holds {0, 1} and {0, 3} with probability 3/8 each and {1, 3} with 1/4, not 1/3 each.

expect: fail sample_negatives_uniform_small_batches
"""

import math

import torch


def _check_enough(available, k):
    short = (available < k).nonzero()
    if short.numel():
        i = int(short[0, 0])
        raise ValueError(f"anchor {i} has only {int(available[i])} valid negatives, fewer than num_negatives={k}")


def sample_negatives(labels, num_negatives, generator=None):
    if not isinstance(num_negatives, int) or num_negatives < 1 or labels.dim() != 1:
        raise ValueError("labels must be 1-D and num_negatives an int >= 1")
    b, k = labels.shape[0], num_negatives
    labels = labels.long()
    order = torch.argsort(labels, stable=True)                                # (B,)
    sorted_labels = labels[order]
    start = torch.searchsorted(sorted_labels, labels)                         # (B,)
    size = torch.searchsorted(sorted_labels, labels, right=True) - start      # (B,)
    available = b - size                                                      # (B,)
    _check_enough(available, k)
    picked = torch.empty(b, k, dtype=torch.long, device=labels.device)
    for step in range(k):
        top = available - k + step                                            # (B,)
        raw = torch.randint(0, b, (b,), generator=generator, device=labels.device)
        t = raw % (top + 1)                                                   # biased unless (top + 1) | b
        taken = (picked[:, :step] == t[:, None]).any(dim=1)
        picked[:, step] = torch.where(taken, top, t)
    positions = picked + size[:, None] * (picked >= start[:, None])           # skip the own block
    return order[positions]


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    if not isinstance(num_negatives, int) or num_negatives < 1 or anchor_labels.dim() != 1 \
            or candidate_labels.dim() != 1 or similarity.dim() != 2 \
            or tuple(similarity.shape) != (anchor_labels.shape[0], candidate_labels.shape[0]):
        raise ValueError("similarity must be (B, M) for B anchor labels and M candidate labels")
    positive = anchor_labels.long()[:, None] == candidate_labels.long()[None, :]   # (B, M)
    _check_enough((~positive).sum(1), num_negatives)
    scores = similarity.masked_fill(positive, -math.inf)
    return scores.sort(dim=1, descending=True, stable=True).indices[:, :num_negatives]


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    if counts.dim() != 1 or counts.numel() == 0:
        raise ValueError("counts must be a non-empty 1-D tensor")
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError("num_samples must be an int >= 1")
    if isinstance(power, bool) or not isinstance(power, (int, float)) or not math.isfinite(power) or power < 0:
        raise ValueError("power must be finite and >= 0")
    c = counts.double()
    if not torch.isfinite(c).all() or (c < 0).any() or not (c > 0).any():
        raise ValueError("counts must be finite, non-negative, with a positive entry")
    weights = torch.where(c > 0, (c / c.max()).pow(power), 0.0)
    return torch.multinomial(weights, num_samples, replacement=True, generator=generator)
