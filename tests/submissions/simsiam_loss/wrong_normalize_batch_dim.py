"""Bug: F.normalize over the batch (dim=0) instead of over the features.

expect: fail matches_reference, worked_example_from_spec
"""

import torch
import torch.nn.functional as F


def _check(p1, p2, z1, z2):
    shapes = {tuple(t.shape) for t in (p1, p2, z1, z2)}
    if p1.dim() != 2 or len(shapes) != 1:
        raise ValueError("p1, p2, z1, z2 must share one (N, D) shape")


def simsiam_loss(p1, p2, z1, z2):
    _check(p1, p2, z1, z2)
    d = lambda p, z: -(F.normalize(p, dim=0) * F.normalize(z.detach(), dim=0)).sum(1).mean()  # noqa: E731
    return (d(p1, z2) + d(p2, z1)) / 2
