"""The SupContrast recipe with its row maximum taken over the whole row, the anchor's own 1/t
included, and the self term zeroed after exp() with a mask, then log of the sum (+1e-9 dropped,
rows normalized, no base-temperature factor, anchors without positives left out). At t = 0.01,
when every other row lies far from the anchor (two opposite views, 200 below it; rows spread at
cosine -1/5, 120 below) every exp() underflows to 0 and log(0) = -inf.

expect: fail spread_out_rows_at_low_temperature
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
    z = F.normalize(features, dim=-1)
    contrast = torch.cat(torch.unbind(z, dim=1), dim=0)                    # view-major rows
    ids = (labels if labels is not None else torch.arange(b)).contiguous().view(-1, 1)
    mask = torch.eq(ids, ids.T).float().repeat(v, v)
    logits_mask = 1 - torch.eye(b * v)
    mask = mask * logits_mask
    if mask.sum() == 0:
        raise ValueError("no anchor has a positive")
    logits = contrast @ contrast.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    counts = mask.sum(1)
    keep = counts > 0
    return (-(mask * log_prob).sum(1)[keep] / counts[keep]).mean()
