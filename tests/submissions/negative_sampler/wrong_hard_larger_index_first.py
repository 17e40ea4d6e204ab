"""Bug: equal similarities go by the larger index (columns reversed before a stable sort).

expect: fail hard_negatives_worked_example, hard_negatives_ties_exact
"""

import torch


def _short(available, k):
    bad = (available < k).nonzero()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(f"anchor {i} has only {int(available[i])} valid negatives")


def sample_negatives(labels, num_negatives, generator=None):
    raise NotImplementedError


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    if num_negatives < 1 or similarity.shape != (len(anchor_labels), len(candidate_labels)):
        raise ValueError("bad input")
    valid = anchor_labels[:, None] != candidate_labels[None, :]
    _short(valid.sum(1), num_negatives)
    s = similarity.masked_fill(~valid, float("-inf")).flip(1)
    order = s.sort(dim=1, descending=True, stable=True).indices[:, :num_negatives]
    return similarity.shape[1] - 1 - order


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    raise NotImplementedError
