"""Correct, without a (BV, BV) mask: the positives' logits of anchor a add up to
z_a . (S_c - z_a) / t, with S_c the sum of the unit rows of a's class c (index_add over the
classes), and |P(a)| = n_c - 1. Only the log-sum-exp needs the full similarity matrix.

expect: pass
"""

import torch
import torch.nn.functional as F


def supcon_loss(features, labels=None, temperature=0.1):
    if features.dim() != 3:
        raise ValueError("features must be 3-D")
    b, v, d = features.shape
    if labels is not None and labels.shape != (b,):
        raise ValueError("labels must have shape (B,)")
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    if labels is None:
        labels = torch.arange(b, device=features.device)
    classes, index = torch.unique(labels, return_inverse=True)
    index = index.repeat_interleave(v)                                       # (BV,)
    sizes = torch.bincount(index, minlength=len(classes))                    # rows per class
    counts = sizes[index] - 1                                                # (BV,) |P(a)|
    keep = counts > 0
    if not keep.any():
        raise ValueError("no anchor has a positive")
    z = F.normalize(features, dim=-1).reshape(b * v, d)
    class_sums = torch.zeros(len(classes), d, dtype=z.dtype, device=z.device).index_add(0, index, z)
    positive_logits = (z * (class_sums[index] - z)).sum(1) / temperature     # (BV,)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(b * v, dtype=torch.bool, device=z.device), float("-inf"))
    per_anchor = torch.logsumexp(logits, dim=1) - positive_logits / counts.clamp_min(1)
    return per_anchor[keep].mean()
