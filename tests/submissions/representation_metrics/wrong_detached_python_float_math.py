"""alignment and uniformity computed, then rebuilt as new tensors from .item(): right values, no
autograd graph.

expect: fail outputs_keep_autograd_graph, alignment_gradients_match_reference
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
    u, v = F.normalize(x, dim=1), F.normalize(y, dim=1)
    return torch.tensor((u - v).norm(dim=1).pow(alpha).mean().item(), dtype=x.dtype)


def uniformity(x, t=2):
    _check_matrix(x, rows=2)
    _check_number(t, "t")
    u = F.normalize(x, dim=1)
    return torch.tensor(torch.pdist(u).pow(2).mul(-t).exp().mean().log().item(), dtype=x.dtype)


def effective_rank(features):
    _check_matrix(features)
    s = torch.linalg.svdvals(features)
    if s.sum() == 0:
        raise ValueError("all-zero matrix")
    p = s / s.sum()
    return torch.exp(-torch.special.xlogy(p, p).sum())
