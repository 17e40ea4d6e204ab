"""Bug: rows flattened sample by sample (reshape: s0v0, s0v1, s1v0, ...) but labels repeated view
by view (labels.repeat(V): s0, s1, ..., s0, s1, ...), so rows get other samples' labels.

expect: fail matches_reference, equals_nt_xent_for_two_views
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
    ids = (labels if labels is not None else torch.arange(b)).repeat(v)
    itself = torch.eye(b * v, dtype=torch.bool)
    positive = (ids[:, None] == ids[None, :]) & ~itself
    if not positive.any():
        raise ValueError("no anchor has a positive")
    logits = (z @ z.T / temperature).masked_fill(itself, float("-inf"))
    log_prob = logits.log_softmax(dim=1)
    counts = positive.sum(1)
    keep = counts > 0
    return (-torch.where(positive, log_prob, 0.0).sum(1)[keep] / counts[keep]).mean()
