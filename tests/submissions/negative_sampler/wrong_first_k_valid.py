"""Bug: not random at all: every row takes the first K valid candidates by index.

expect: fail sample_negatives_worked_example, sample_negatives_uniform_subsets, different_generator_seeds_differ
"""

import torch


def _short(available, k):
    bad = (available < k).nonzero()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(f"anchor {i} has only {int(available[i])} valid negatives")


def sample_negatives(labels, num_negatives, generator=None):
    if num_negatives < 1 or labels.dim() != 1:
        raise ValueError("bad input")
    valid = labels[:, None] != labels[None, :]
    _short(valid.sum(1), num_negatives)
    # False sorts before True: the valid indices come first, in increasing order
    return torch.sort((~valid).to(torch.uint8), dim=1, stable=True).indices[:, :num_negatives]


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    if num_negatives < 1 or similarity.shape != (len(anchor_labels), len(candidate_labels)):
        raise ValueError("bad input")
    valid = anchor_labels[:, None] != candidate_labels[None, :]
    _short(valid.sum(1), num_negatives)
    s = similarity.masked_fill(~valid, float("-inf"))
    return s.sort(dim=1, descending=True, stable=True).indices[:, :num_negatives]


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    c = counts.double()
    if c.dim() != 1 or c.numel() == 0 or not torch.isfinite(c).all() or (c < 0).any() or not (c > 0).any():
        raise ValueError("bad counts")
    if num_samples < 1 or not (0 <= power < float("inf")):
        raise ValueError("bad num_samples or power")
    w = torch.where(c > 0, c.pow(power), 0.0)
    return torch.multinomial(w, num_samples, replacement=True, generator=generator)
