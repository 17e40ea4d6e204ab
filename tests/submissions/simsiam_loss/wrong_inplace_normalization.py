"""Bug: normalizes the caller's predictions in place (p.div_), changing the inputs.

expect: fail inputs_not_modified
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
        p1.div_(p1.norm(dim=1, keepdim=True))
        p2.div_(p2.norm(dim=1, keepdim=True))
    return -(F.cosine_similarity(p1, z2.detach(), dim=1).mean() + F.cosine_similarity(p2, z1.detach(), dim=1).mean()) / 2
