"""Correct: Barlow Twins with a fresh nn.BatchNorm1d(affine=False) in training mode (as the
released code, whose running statistics do not enter the loss) and the off-diagonal entries
taken by the flatten / view trick; VICReg with torch.cov (correction 1, the N - 1 divisor) and
a boolean mask for the off-diagonal.

expect: pass
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def _check(z1, z2, **coefficients):
    if not (isinstance(z1, torch.Tensor) and isinstance(z2, torch.Tensor)) or z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError("z1, z2: two (N, D) tensors of the same shape")
    if z1.shape[0] < 2:
        raise ValueError("N must be at least 2")
    for name, value in coefficients.items():
        if value < 0 or value != value:
            raise ValueError(f"{name} must be a non-negative number")


def _off_diagonal(x):
    n = x.shape[0]
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def barlow_twins_loss(z1, z2, lambd=5e-3):
    _check(z1, z2, lambd=lambd)
    bn = nn.BatchNorm1d(z1.shape[1], affine=False).to(device=z1.device, dtype=z1.dtype).train()
    c = bn(z1).T @ bn(z2) / z1.shape[0]
    on_diag = torch.diagonal(c).add(-1).pow(2).sum()
    off_diag = _off_diagonal(c).pow(2).sum()
    return on_diag + lambd * off_diag


def vicreg_loss(z1, z2, sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0, eps=1e-4):
    _check(z1, z2, sim_coeff=sim_coeff, std_coeff=std_coeff, cov_coeff=cov_coeff, eps=eps)
    d = z1.shape[1]
    off = ~torch.eye(d, dtype=torch.bool, device=z1.device)
    variance, covariance = 0.0, 0.0
    for z in (z1, z2):
        cov = torch.cov(z.T) if d > 1 else z.var(0).reshape(1, 1)
        variance = variance + F.relu(1 - torch.sqrt(torch.diagonal(cov) + eps)).mean() / 2
        covariance = covariance + cov[off].pow(2).sum() / d
    return sim_coeff * F.mse_loss(z1, z2) + std_coeff * variance + cov_coeff * covariance
