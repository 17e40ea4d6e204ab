"""Bug: the stop-gradient on the wrong side (p detached, z not): the predictor never learns.
The collapse experiment does not reliably catch this one (spread 0.40-0.75 over 20 seeds); the
gradient checks do.

expect: fail no_gradient_to_the_targets, gradients_match_reference, output_keeps_autograd_graph
"""

import torch
import torch.nn.functional as F


def _check(p1, p2, z1, z2):
    shapes = {tuple(t.shape) for t in (p1, p2, z1, z2)}
    if p1.dim() != 2 or len(shapes) != 1:
        raise ValueError("p1, p2, z1, z2 must share one (N, D) shape")


def simsiam_loss(p1, p2, z1, z2):
    _check(p1, p2, z1, z2)
    return -(F.cosine_similarity(p1.detach(), z2, dim=1).mean()
             + F.cosine_similarity(p2.detach(), z1, dim=1).mean()) / 2
