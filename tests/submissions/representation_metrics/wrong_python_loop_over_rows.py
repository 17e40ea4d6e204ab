"""uniformity and alignment with a Python loop over the rows: right values, far too slow.

expect: fail speed_vs_reference
"""
import math

import torch
import torch.nn.functional as F


def alignment(x, y, alpha=2):
    if x.dim() != 2 or x.shape != y.shape or not (math.isfinite(alpha) and alpha > 0):
        raise ValueError("bad input")
    u, v = F.normalize(x, dim=1), F.normalize(y, dim=1)
    total = 0
    for i in range(x.shape[0]):
        total = total + (u[i] - v[i]).norm().pow(alpha)
    return total / x.shape[0]


def uniformity(x, t=2):
    if x.dim() != 2 or x.shape[0] < 2 or not (math.isfinite(t) and t > 0):
        raise ValueError("bad input")
    n = x.shape[0]
    u = F.normalize(x, dim=1)
    terms = []
    for i in range(n - 1):
        terms.append(-t * (u[i + 1:] - u[i]).pow(2).sum(1))
    return torch.logsumexp(torch.cat(terms), 0) - math.log(n * (n - 1) / 2)


def effective_rank(features):
    if features.dim() != 2:
        raise ValueError("features must be 2-D")
    s = torch.linalg.svdvals(features)
    if s.sum() == 0:
        raise ValueError("all-zero matrix")
    p = s / s.sum()
    return torch.exp(-torch.special.xlogy(p, p).sum())
