"""Bug: the positive mask is labels == labels.T without removing the diagonal, so every anchor is
its own positive (and a batch without positives is not detected).

expect: fail worked_example_from_spec, matches_reference, rejects_batch_without_positives
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
    positive = ids[:, None] == ids[None, :]
    logits = z @ z.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    others = ~torch.eye(b * v, dtype=torch.bool)
    log_prob = logits - torch.log(torch.where(others, logits.exp(), 0.0).sum(1, keepdim=True))
    return (-(positive * log_prob).sum(1) / positive.sum(1)).mean()
