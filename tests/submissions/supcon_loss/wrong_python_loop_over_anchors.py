"""Bug (speed): one anchor at a time in a Python loop; right values, 15-19x slower at B*V = 256.

expect: fail speed_vs_reference
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
    losses = []
    for a in range(z.shape[0]):
        if not positive[a].any():
            continue
        logits = z @ z[a] / temperature
        log_denominator = torch.logsumexp(logits[~itself[a]], dim=0)
        losses.append(log_denominator - logits[positive[a]].mean())
    return torch.stack(losses).mean()
