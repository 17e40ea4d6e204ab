"""Bug: BYOL's loss, 2 - 2 cos, symmetrised: the same gradients up to a factor 2 and a different
value (BYOL's is in [0, 4], SimSiam's in [-1, 1]).

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
    d = lambda p, z: (2 - 2 * F.cosine_similarity(p, z.detach(), dim=1)).mean()  # noqa: E731
    return (d(p1, z2) + d(p2, z1)) / 2
