"""Bug: always uses word2vec's 0.75, whatever power is passed.

expect: fail sample_unigram_distribution
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
    return torch.multinomial(c.pow(0.75), num_samples, replacement=True, generator=generator)
