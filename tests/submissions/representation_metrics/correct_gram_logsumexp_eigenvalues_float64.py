"""uniformity from one Gram matrix over the ordered pairs i != j with a log-sum-exp; effective_rank from the
eigenvalues of the Gram matrix computed in float64 (clamped at 0), cast back to the input's dtype.

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
    u, v = F.normalize(x, dim=1), F.normalize(y, dim=1)
    return (u - v).norm(dim=1).pow(alpha).mean()


def uniformity(x, t=2):
    _check_matrix(x, rows=2)
    _check_number(t, "t")
    n = x.shape[0]
    u = F.normalize(x, dim=1)
    sq = (2 - 2 * u @ u.T).clamp_min(0)
    keep = ~torch.eye(n, dtype=torch.bool, device=x.device)
    return torch.logsumexp(-t * sq[keep], 0) - math.log(n * (n - 1))


def effective_rank(features):
    _check_matrix(features)
    m = features.double()
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    s = torch.linalg.eigvalsh(gram).clamp_min(0).sqrt()
    if s.sum() == 0:
        raise ValueError("all-zero matrix")
    p = s[s > 0] / s.sum()
    return torch.exp(-(p * p.log()).sum()).to(features.dtype)
