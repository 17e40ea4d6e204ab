"""Reference representation metrics: alignment, uniformity and effective rank.

Wang & Isola, "Understanding Contrastive Representation Learning through Alignment and
Uniformity on the Hypersphere", ICML 2020, Section 4.1: L_align(f; alpha) =
E_pos ||f(x) - f(y)||^alpha and L_uniform(f; t) = log E_{x, y iid} exp(-t ||f(x) - f(y)||^2) on
L2-normalized features; their PyTorch listing takes the expectation over the pairs i < j of a
batch (torch.pdist), so a sample is never paired with itself.

Roy & Vetterli, "The effective rank: a measure of effective dimensionality", EUSIPCO 2007,
Definition 1: with the singular values s_k of the matrix and p_k = s_k / sum_j s_j,
erank = exp(-sum_k p_k log p_k), with 0 log 0 = 0.
"""

import math

import torch
import torch.nn.functional as F


def _positive_number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _matrix(x, name, min_rows=1):
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise ValueError(f"{name} must be a 2-D tensor (N, D), got {getattr(x, 'shape', type(x).__name__)}")
    if x.shape[0] < min_rows or x.shape[1] < 1:
        raise ValueError(f"{name} needs N >= {min_rows} rows and D >= 1 columns, got shape {tuple(x.shape)}")


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2) -> torch.Tensor:
    """Mean over the N positive pairs (x_i, y_i) of ||x_i/|x_i| - y_i/|y_i| ||^alpha."""
    _matrix(x, "x")
    _matrix(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    _positive_number(alpha, "alpha")
    u, v = F.normalize(x, dim=1), F.normalize(y, dim=1)            # (N, D) unit rows
    return (u - v).norm(dim=1).pow(alpha).mean()                    # 0-dim


def uniformity(x: torch.Tensor, t: float = 2) -> torch.Tensor:
    """log of the mean over the N(N-1)/2 pairs i < j of exp(-t ||u_i - u_j||^2), u = x/|x|."""
    _matrix(x, "x", min_rows=2)
    _positive_number(t, "t")
    n = x.shape[0]
    u = F.normalize(x, dim=1)                                       # (N, D)
    sq_dist = (2 - 2 * (u @ u.T)).clamp_min(0)                      # (N, N), |u_i - u_j|^2
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=x.device)  # (N, N), i != j
    # the mean over i != j equals the mean over i < j; the log-sum-exp cannot underflow
    return torch.logsumexp(-t * sq_dist[off_diagonal], dim=0) - math.log(n * (n - 1))


def effective_rank(features: torch.Tensor) -> torch.Tensor:
    """exp of the entropy of the singular values normalized to sum 1 (the matrix as given)."""
    _matrix(features, "features")
    s = torch.linalg.svdvals(features.detach())                     # (min(N, D),)
    total = s.sum()
    if total == 0:
        raise ValueError("effective_rank of an all-zero matrix is undefined (no non-zero singular value)")
    p = s / total                                                   # (min(N, D),), sums to 1
    return torch.exp(-torch.special.xlogy(p, p).sum())              # 0-dim; 0 log 0 = 0
