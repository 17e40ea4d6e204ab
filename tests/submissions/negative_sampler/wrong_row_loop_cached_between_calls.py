"""Bug: hard_negatives loops over anchors in Python (one stable sort per row), and hides the
loop from a timer: each row's order is cached under the similarity tensor's identity
(data pointer, version, shape), and only the label mask is applied per call. A speed check
that sent one similarity for every repetition timed only the cache hits (0.6x the
reference); each repetition must bring new values.

expect: fail hard_negatives_speed_many_short_rows
"""

import torch

_orders = {}


def _check(k, valid):
    if k < 1:
        raise ValueError("num_negatives must be >= 1")
    short = (valid < k).nonzero()
    if len(short):
        i = int(short[0])
        raise ValueError(f"anchor {i} has only {int(valid[i])} valid candidates, fewer than {k}")


def _row_orders(similarity):
    key = (similarity.data_ptr(), similarity._version, tuple(similarity.shape))
    if key not in _orders:
        _orders.clear()
        _orders[key] = torch.stack([torch.sort(row, descending=True, stable=True).indices
                                    for row in similarity])
    return _orders[key]


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    valid = anchor_labels[:, None] != candidate_labels[None, :]
    _check(num_negatives, valid.sum(1))
    orders = _row_orders(similarity)                                   # (B, M), most similar first
    keep = valid.gather(1, orders)                                     # valid, in that order
    rank = torch.where(keep, keep.cumsum(1), num_negatives + 1)        # 1, 2, ... for valid ones
    picked = (rank <= num_negatives).nonzero()[:, 1].view(len(orders), num_negatives)
    return orders.gather(1, picked)


def sample_negatives(labels, num_negatives, generator=None):
    raise NotImplementedError


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    raise NotImplementedError
