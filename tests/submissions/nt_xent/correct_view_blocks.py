"""Correct: builds the four N x N blocks (within and across views) instead of one 2N x 2N matrix.

expect: pass
"""

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    if z1.ndim != 2 or z2.ndim != 2 or z1.shape != z2.shape or z1.shape[0] < 1:
        raise ValueError("z1 and z2 must both be (N, D)")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    a = F.normalize(z1, dim=-1)
    b = F.normalize(z2, dim=-1)
    n = a.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=a.device)
    aa = (a @ a.T / temperature).masked_fill(eye, float("-inf"))
    bb = (b @ b.T / temperature).masked_fill(eye, float("-inf"))
    ab = a @ b.T / temperature
    rows_a = torch.cat([aa, ab], dim=1)    # anchors from view 1
    rows_b = torch.cat([ab.T, bb], dim=1)  # anchors from view 2
    positives = torch.diagonal(ab)
    loss_a = torch.logsumexp(rows_a, dim=1) - positives
    loss_b = torch.logsumexp(rows_b, dim=1) - positives
    return torch.cat([loss_a, loss_b]).mean()
