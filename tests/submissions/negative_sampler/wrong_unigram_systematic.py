"""Bug: systematic resampling. One uniform offset, then num_samples evenly spaced points
through the cumulative distribution: each item's frequency is right (the draws even fit
the distribution too well), but the draws come out sorted and are not independent.

expect: fail sample_unigram_draws_independent
"""

import torch


def sample_negatives(labels, num_negatives, generator=None):
    raise NotImplementedError


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    raise NotImplementedError


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    c = counts.double()
    if c.dim() != 1 or c.numel() == 0 or not torch.isfinite(c).all() or (c < 0).any() or not (c > 0).any():
        raise ValueError("bad counts")
    if num_samples < 1 or not (0 <= power < float("inf")):
        raise ValueError("bad num_samples or power")
    weights = torch.where(c > 0, c.pow(power), 0.0)
    cdf = weights.cumsum(0) / weights.sum()
    offset = torch.rand((), dtype=torch.float64, generator=generator, device=c.device)
    points = (offset + torch.arange(num_samples, dtype=torch.float64, device=c.device)) / num_samples
    return torch.searchsorted(cdf, points, right=True).clamp_(max=c.numel() - 1)
