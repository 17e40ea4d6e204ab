"""Bug: the positive mask is built from F.one_hot(labels), which assumes labels in 0 .. C-1:
negative or large label values crash or blow up memory.

expect: fail matches_reference, invariant_to_relabelling
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
    b, v, d = features.shape
    z = F.normalize(features, dim=-1).reshape(b * v, d)
    ids = (labels if labels is not None else torch.arange(b)).repeat_interleave(v)
    onehot = F.one_hot(ids).float()
    itself = torch.eye(b * v, dtype=torch.bool)
    positive = (onehot @ onehot.T).bool() & ~itself
    if not positive.any():
        raise ValueError("no anchor has a positive")
    logits = (z @ z.T / temperature).masked_fill(itself, float("-inf"))
    log_prob = logits.log_softmax(dim=1)
    counts = positive.sum(1)
    keep = counts > 0
    return (-torch.where(positive, log_prob, 0.0).sum(1)[keep] / counts[keep]).mean()
