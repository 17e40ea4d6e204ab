"""Bug: plain topk; its order and choice among equal similarities are unspecified.

expect: fail hard_negatives_ties_exact
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
    return similarity.masked_fill(~valid, float("-inf")).topk(num_negatives, dim=1).indices


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    raise NotImplementedError
