"""Bug: the "too few valid negatives" ValueError names the anchor with the fewest valid candidates
(argmin), not the first short anchor (smallest index) that the spec asks for. The two agree when the
first short anchor also has the fewest candidates; with labels [0, 1, 1] and K = 3 anchor 0 (2
candidates) comes first, but anchor 1 (1 candidate) is named.

expect: fail sample_negatives_error_names_first_short_anchor, hard_negatives_error_names_first_short_anchor
"""

import torch


def _check_enough(available, k):
    if (available < k).any():
        i = int(available.argmin())
        raise ValueError(f"anchor {i} has only {int(available[i])} valid negatives, "
                         f"fewer than num_negatives={k}")


def sample_negatives(labels, num_negatives, generator=None):
    if num_negatives < 1 or labels.dim() != 1:
        raise ValueError("labels must be 1-D and num_negatives >= 1")
    valid = labels[:, None] != labels[None, :]                            # (B, B)
    _check_enough(valid.sum(1), num_negatives)
    return torch.multinomial(valid.double(), num_negatives, generator=generator)


def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    if num_negatives < 1 or similarity.shape != (len(anchor_labels), len(candidate_labels)):
        raise ValueError("similarity must be (B, M) and num_negatives >= 1")
    valid = anchor_labels[:, None] != candidate_labels[None, :]           # (B, M)
    _check_enough(valid.sum(1), num_negatives)
    s = similarity.masked_fill(~valid, float("-inf"))
    return s.sort(dim=1, descending=True, stable=True).indices[:, :num_negatives]


def sample_unigram(counts, num_samples, power=0.75, generator=None):
    c = counts.double()
    if c.dim() != 1 or c.numel() == 0 or not torch.isfinite(c).all() or (c < 0).any() or not (c > 0).any():
        raise ValueError("counts must be 1-D, finite, non-negative, with a positive entry")
    if num_samples < 1 or not (0 <= power < float("inf")):
        raise ValueError("num_samples must be >= 1 and power finite and >= 0")
    w = torch.where(c > 0, c.pow(power), 0.0)
    return torch.multinomial(w, num_samples, replacement=True, generator=generator)
