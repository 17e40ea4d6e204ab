"""Bug: hard_negatives ranks similarity.float(). Float64 similarities that differ by less
than float32's resolution become ties and go by index instead of by value.

expect: fail hard_negatives_float64_precision
"""

import torch


def sample_negatives(labels, num_negatives, generator=None):
    raise NotImplementedError


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    same = anchor_labels[:, None] == candidate_labels[None, :]
    available = (~same).sum(1)
    short = (available < num_negatives).nonzero()
    if short.numel():
        i = int(short[0, 0])
        raise ValueError(f"anchor {i} has only {int(available[i])} valid negatives")
    scores = similarity.float().masked_fill(same, float("-inf"))
    return scores.sort(dim=1, descending=True, stable=True).indices[:, :num_negatives]


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    raise NotImplementedError
