"""Correct: the (B, V, B, V) similarity tensor kept 4-D with einsum, the positive mask from
the labels broadcast over both view axes, log_softmax over every (sample, view) but the anchor.

expect: pass
"""

import torch
import torch.nn.functional as F


def supcon_loss(features, labels=None, temperature=0.1):
    if features.ndim != 3:
        raise ValueError(f"features must be (B, V, D), got {tuple(features.shape)}")
    b, v, _ = features.shape
    if labels is not None and (labels.ndim != 1 or labels.numel() != b):
        raise ValueError("one label per sample")
    if temperature != temperature or temperature <= 0:
        raise ValueError("temperature must be a positive number")
    ids = labels if labels is not None else torch.arange(b, device=features.device)
    same = (ids[:, None] == ids[None, :])[:, None, :, None].expand(b, v, b, v)       # (B, V, B, V)
    itself = torch.eye(b * v, dtype=torch.bool, device=features.device).view(b, v, b, v)
    positive = same & ~itself
    counts = positive.sum(dim=(2, 3))                                                  # (B, V)
    if not (counts > 0).any():
        raise ValueError("no anchor has a positive")
    z = F.normalize(features, dim=-1)
    sim = torch.einsum("avd,bwd->avbw", z, z) / temperature                           # (B, V, B, V)
    sim = sim.masked_fill(itself, float("-inf")).reshape(b, v, b * v)
    log_prob = sim.log_softmax(dim=-1).reshape(b, v, b, v)
    total = torch.where(positive, log_prob, torch.zeros_like(log_prob)).sum(dim=(2, 3))
    return -(total[counts > 0] / counts[counts > 0]).mean()
