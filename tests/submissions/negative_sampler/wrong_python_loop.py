"""Bug: correct results, but Python loops over the anchors: far too slow.

expect: fail sample_negatives_speed, hard_negatives_speed
"""

import torch


def sample_negatives(labels, num_negatives, generator=None):
    if num_negatives < 1 or labels.dim() != 1:
        raise ValueError("bad input")
    rows = []
    for i in range(len(labels)):
        valid = (labels != labels[i]).nonzero().flatten()
        if len(valid) < num_negatives:
            raise ValueError(f"anchor {i} has only {len(valid)} valid negatives")
        pick = torch.randperm(len(valid), generator=generator, device=labels.device)[:num_negatives]
        rows.append(valid[pick])
    return torch.stack(rows)


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    if num_negatives < 1 or similarity.shape != (len(anchor_labels), len(candidate_labels)):
        raise ValueError("bad input")
    rows = []
    for i in range(len(anchor_labels)):
        valid = candidate_labels != anchor_labels[i]
        if int(valid.sum()) < num_negatives:
            raise ValueError(f"anchor {i} has only {int(valid.sum())} valid negatives")
        row = similarity[i].masked_fill(~valid, float("-inf"))
        rows.append(row.sort(descending=True, stable=True).indices[:num_negatives])
    return torch.stack(rows)


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    c = counts.double()
    if c.dim() != 1 or c.numel() == 0 or not torch.isfinite(c).all() or (c < 0).any() or not (c > 0).any():
        raise ValueError("bad counts")
    if num_samples < 1 or not (0 <= power < float("inf")):
        raise ValueError("bad num_samples or power")
    w = torch.where(c > 0, c.pow(power), 0.0)
    return torch.multinomial(w, num_samples, replacement=True, generator=generator)
