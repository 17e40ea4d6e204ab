"""Bug: the whole loss under torch.no_grad(), as for a logged metric: nothing can be trained.

expect: fail output_keeps_autograd_graph, gradients_match_reference
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
        return -(F.cosine_similarity(p1, z2, dim=1).mean() + F.cosine_similarity(p2, z1, dim=1).mean()) / 2
