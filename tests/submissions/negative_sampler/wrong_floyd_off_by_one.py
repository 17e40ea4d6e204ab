"""Bug: Floyd's algorithm with t drawn from [0, j) instead of [0, j]: distinct and valid, but biased.

expect: fail sample_negatives_uniform_subsets, sample_negatives_uniform_inclusion
"""

import torch


def sample_negatives(labels, num_negatives, generator=None):
    if num_negatives < 1 or labels.dim() != 1:
        raise ValueError("bad input")
    b, k = len(labels), num_negatives
    order = torch.argsort(labels, stable=True)
    start = torch.searchsorted(labels[order], labels)
    size = torch.searchsorted(labels[order], labels, right=True) - start
    n = b - size
    bad = (n < k).nonzero()
    if bad.numel():
        raise ValueError(f"anchor {int(bad[0])} has only {int(n[bad[0]])} valid negatives")
    picked = torch.empty(b, k, dtype=torch.long)
    for step in range(k):
        j = n - k + step
        t = (torch.rand(b, generator=generator, dtype=torch.float64) * j).long()   # should be j + 1
        taken = (picked[:, :step] == t[:, None]).any(1)
        picked[:, step] = torch.where(taken, j, t)
    return order[picked + size[:, None] * (picked >= start[:, None])]


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    raise NotImplementedError


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    raise NotImplementedError
