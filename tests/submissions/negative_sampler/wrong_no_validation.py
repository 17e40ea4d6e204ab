"""Bug: no input validation: bad arguments fail deep inside torch, or not at all.

expect: fail sample_negatives_rejects_bad_inputs, sample_negatives_error_names_first_short_anchor, hard_negatives_rejects_bad_inputs, sample_unigram_rejects_bad_inputs
"""

import torch


def sample_negatives(labels, num_negatives, generator=None):
    valid = labels[:, None] != labels[None, :]
    return torch.multinomial(valid.double(), num_negatives, generator=generator)


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    valid = anchor_labels[:, None] != candidate_labels[None, :]
    s = similarity.masked_fill(~valid, float("-inf"))
    return s.sort(dim=1, descending=True, stable=True).indices[:, :num_negatives]


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    w = torch.where(counts > 0, counts.double().pow(power), 0.0)
    return torch.multinomial(w, num_samples, replacement=True, generator=generator)
