"""Bug: the self entry is set to -inf, then positives are selected by multiplying with the mask:
-inf * 0 is nan on the diagonal, so every row is nan.

expect: fail worked_example_from_spec, matches_reference
"""

import torch
import torch.nn.functional as F


def _check(features, labels, temperature):
    if features.dim() != 3:
        raise ValueError("features must be (B, V, D)")
    if labels is not None and labels.shape != (features.shape[0],):
        raise ValueError("labels must be (B,)")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")


def _rows(features, labels):
    b, v, d = features.shape
    z = F.normalize(features, dim=-1).reshape(b * v, d)
    ids = (labels if labels is not None else torch.arange(b)).repeat_interleave(v)
    itself = torch.eye(b * v, dtype=torch.bool)
    positive = (ids[:, None] == ids[None, :]) & ~itself
    if not positive.any():
        raise ValueError("no anchor has a positive")
    return z, itself, positive


def supcon_loss(features, labels=None, temperature=0.1):
    _check(features, labels, temperature)
    z, itself, positive = _rows(features, labels)
    logits = (z @ z.T / temperature).masked_fill(itself, float("-inf"))
    log_prob = logits.log_softmax(dim=1)
    counts = positive.sum(1)
    keep = counts > 0
    return (-(positive.float() * log_prob).sum(1)[keep] / counts[keep]).mean()
