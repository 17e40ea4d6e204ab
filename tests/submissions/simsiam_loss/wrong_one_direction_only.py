"""Bug: no symmetrisation: only D(p1, z2), as in the paper's asymmetric ablation.

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
    return -F.cosine_similarity(p1, z2.detach(), dim=1).mean()
