"""Correct: the released SimSiam code's form (nn.CosineSimilarity, z detached by the caller's model).

expect: pass
"""

import torch.nn as nn

_cos = nn.CosineSimilarity(dim=1)


def _check(p1, p2, z1, z2):
    shapes = {tuple(t.shape) for t in (p1, p2, z1, z2)}
    if p1.dim() != 2 or len(shapes) != 1:
        raise ValueError("p1, p2, z1, z2 must share one (N, D) shape")


def simsiam_loss(p1, p2, z1, z2):
    _check(p1, p2, z1, z2)
    z1, z2 = z1.detach(), z2.detach()
    return -(_cos(p1, z2).mean() + _cos(p2, z1).mean()) * 0.5
