"""Bug: labels cast to int32 "to save memory". Labels that agree in their low 32 bits
(1 and 2**32 + 1) become one class, so anchors lose valid negatives or the call fails.

expect: fail labels_keep_all_64_bits
"""

import torch


def sample_negatives(labels, num_negatives, generator=None):
    small = labels.to(torch.int32)
    b = small.shape[0]
    valid = small[None, :] != small[:, None]                      # (B, B)
    available = valid.sum(1)
    short = (available < num_negatives).nonzero()
    if short.numel():
        i = int(short[0, 0])
        raise ValueError(f"anchor {i} has only {int(available[i])} valid negatives")
    keys = torch.rand(b, b, generator=generator, device=labels.device).masked_fill(~valid, 2.0)
    return keys.topk(num_negatives, dim=1, largest=False).indices


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    same = anchor_labels.to(torch.int32)[:, None] == candidate_labels.to(torch.int32)[None, :]
    scores = similarity.masked_fill(same, float("-inf"))
    return scores.sort(dim=1, descending=True, stable=True).indices[:, :num_negatives]


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    raise NotImplementedError
