"""Correct: the targets are normalized under torch.no_grad() (no gradient can reach them), the
cosine as an einsum of unit rows, both directions in one stacked mean.

expect: pass
"""

import torch
import torch.nn.functional as F


def _check(p1, p2, z1, z2):
    shapes = {tuple(t.shape) for t in (p1, p2, z1, z2)}
    if p1.dim() != 2 or len(shapes) != 1:
        raise ValueError("p1, p2, z1, z2 must share one (N, D) shape")


def simsiam_loss(p1, p2, z1, z2):
    _check(p1, p2, z1, z2)
    with torch.no_grad():
        targets = F.normalize(torch.cat([z2, z1]), dim=1)       # (2N, D): z2 for p1's rows, z1 for p2's
    predictions = F.normalize(torch.cat([p1, p2]), dim=1)       # (2N, D)
    return -torch.einsum("nd,nd->n", predictions, targets).mean()
