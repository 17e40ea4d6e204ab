"""Bug: D(p1, z2) + D(p2, z1) without the halves (range [-2, 2]).

expect: fail matches_reference, worked_example_from_spec, aligned_predictions_give_minus_one
"""

import torch
import torch.nn.functional as F


def _check(p1, p2, z1, z2):
    shapes = {tuple(t.shape) for t in (p1, p2, z1, z2)}
    if p1.dim() != 2 or len(shapes) != 1:
        raise ValueError("p1, p2, z1, z2 must share one (N, D) shape")


def simsiam_loss(p1, p2, z1, z2):
    _check(p1, p2, z1, z2)
    return -(F.cosine_similarity(p1, z2.detach(), dim=1).mean() + F.cosine_similarity(p2, z1.detach(), dim=1).mean())
