"""Bug: hard_negatives is exact but loops over anchors in Python (one stable sort per row). At
B = M = 4096 that costs about as much as a vectorized top-k, so only many short rows expose it.

expect: fail hard_negatives_speed_many_short_rows
"""

import torch


def _check(k, valid):
    if k < 1:
        raise ValueError("num_negatives must be >= 1")
    short = (valid < k).nonzero()
    if len(short):
        i = int(short[0])
        raise ValueError(f"anchor {i} has only {int(valid[i])} valid candidates, fewer than {k}")


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    valid = anchor_labels[:, None] != candidate_labels[None, :]
    _check(num_negatives, valid.sum(1))
    masked = similarity.masked_fill(~valid, float("-inf"))
    rows = []
    for row in masked:
        order = torch.sort(row, descending=True, stable=True).indices
        rows.append(order[:num_negatives])
    return torch.stack(rows)


def sample_negatives(labels, num_negatives, generator=None):
    raise NotImplementedError


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    raise NotImplementedError
