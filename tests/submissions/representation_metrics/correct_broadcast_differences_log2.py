"""Pairwise differences by broadcasting, the upper triangle, alignment as a sum of squares to the power
alpha/2; effective_rank with a base-2 entropy and 2**H (the same number), zeros masked.

expect: pass
"""
import math

import torch
import torch.nn.functional as F


def _check_number(value, name):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0")


def _check_matrix(x, rows=1):
    if x.dim() != 2 or x.shape[0] < rows or x.shape[1] < 1:
        raise ValueError(f"expected a 2-D tensor with at least {rows} rows")


def alignment(x, y, alpha=2):
    _check_matrix(x)
    if x.shape != y.shape:
        raise ValueError("x and y must have the same shape")
    _check_number(alpha, "alpha")
    d = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12) - y / y.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return d.pow(2).sum(1).pow(alpha / 2).mean()


def uniformity(x, t=2):
    _check_matrix(x, rows=2)
    _check_number(t, "t")
    n = x.shape[0]
    u = F.normalize(x, dim=1)
    sq = (u[:, None, :] - u[None, :, :]).pow(2).sum(-1)
    i, j = torch.triu_indices(n, n, offset=1, device=x.device)
    return torch.logsumexp(-t * sq[i, j], 0) - math.log(len(i))


def effective_rank(features):
    _check_matrix(features)
    s = torch.linalg.svd(features, full_matrices=False).S
    if not s.sum() > 0:
        raise ValueError("all-zero matrix")
    p = s / s.sum()
    p = p[p > 0]
    return torch.pow(torch.tensor(2.0, dtype=features.dtype, device=features.device), -(p * torch.log2(p)).sum())
