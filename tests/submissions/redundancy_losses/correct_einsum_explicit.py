"""Correct: every statistic written out with einsum and explicit divisors: the biased variance
as a mean of squares, C from einsum, the off-diagonal as the sum of squares minus the
diagonal's; VICReg's hinge as clamp(min=0), its unbiased variance as a sum of squares over
N - 1, the invariance term as a mean over all N * D entries.

expect: pass
"""

import torch


def barlow_twins_loss(z1, z2, lambd=5e-3):
    if z1.dim() != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError("bad shapes")
    if not lambd >= 0:
        raise ValueError("bad lambd")
    n = z1.shape[0]
    a, b = z1 - z1.mean(0, keepdim=True), z2 - z2.mean(0, keepdim=True)
    a = a * torch.rsqrt(a.pow(2).mean(0, keepdim=True) + 1e-5)
    b = b * torch.rsqrt(b.pow(2).mean(0, keepdim=True) + 1e-5)
    c = torch.einsum("ni,nj->ij", a, b) / n
    diag = torch.einsum("ii->i", c)
    return (1 - diag).pow(2).sum() + lambd * (c.pow(2).sum() - diag.pow(2).sum())


def vicreg_loss(z1, z2, sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0, eps=1e-4):
    if z1.dim() != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError("bad shapes")
    if not all(c >= 0 for c in (sim_coeff, std_coeff, cov_coeff, eps)):
        raise ValueError("bad coefficients")
    n, d = z1.shape
    invariance = (z1 - z2).pow(2).sum() / (n * d)
    variance = covariance = 0
    for z in (z1, z2):
        x = z - z.mean(0, keepdim=True)
        var = x.pow(2).sum(0) / (n - 1)
        variance = variance + (1 - (var + eps).sqrt()).clamp(min=0).mean() / 2
        cov = torch.einsum("ni,nj->ij", x, x) / (n - 1)
        covariance = covariance + (cov.pow(2).sum() - var.pow(2).sum()) / d
    return sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance
