"""Correct: unit rows by rsqrt of the squared norms, computed in float64 and cast back.

expect: pass
"""

import torch


def _check(p1, p2, z1, z2):
    shapes = {tuple(t.shape) for t in (p1, p2, z1, z2)}
    if p1.dim() != 2 or len(shapes) != 1:
        raise ValueError("p1, p2, z1, z2 must share one (N, D) shape")


def _d(p, z):
    p64, z64 = p.double(), z.detach().double()
    cos = (p64 * z64).sum(1) * (p64.square().sum(1) * z64.square().sum(1)).clamp_min(1e-300).rsqrt()
    return -cos.mean()


def simsiam_loss(p1, p2, z1, z2):
    _check(p1, p2, z1, z2)
    return ((_d(p1, z2) + _d(p2, z1)) / 2).to(p1.dtype)
