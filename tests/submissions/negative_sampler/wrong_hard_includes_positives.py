"""Bug: never masks the anchor's own class, so its most similar positives come out as negatives.

expect: fail hard_negatives_worked_example, hard_negatives_matches_reference
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
    return similarity.sort(dim=1, descending=True, stable=True).indices[:, :num_negatives]


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    raise NotImplementedError
