"""Bug: standardizes with a detached mean and standard deviation (as if they were BatchNorm's
running statistics): the values are right, but the gradient misses the statistics' own
dependence on the batch, which is what keeps Barlow Twins from collapsing.

expect: fail bt_gradients_match_reference, bt_gradcheck_float64
"""

import torch
import torch.nn.functional as F


def barlow_twins_loss(z1, z2, lambd=5e-3):
    if z1.dim() != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError("z1 and z2 must be (N, D) of the same shape with N >= 2")
    if not lambd >= 0:
        raise ValueError("lambd must be >= 0")
    n = z1.shape[0]
    with torch.no_grad():
        m1, s1 = z1.mean(0), torch.sqrt(z1.var(0, unbiased=False) + 1e-5)
        m2, s2 = z2.mean(0), torch.sqrt(z2.var(0, unbiased=False) + 1e-5)
    c = ((z1 - m1) / s1).T @ ((z2 - m2) / s2) / n
    on_diag = (1 - torch.diagonal(c)).pow(2).sum()
    off_diag = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    return on_diag + lambd * off_diag


def vicreg_loss(z1, z2, sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0, eps=1e-4):
    if z1.dim() != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError("z1 and z2 must be (N, D) of the same shape with N >= 2")
    if not (sim_coeff >= 0 and std_coeff >= 0 and cov_coeff >= 0 and eps >= 0):
        raise ValueError("coefficients and eps must be >= 0")
    n, d = z1.shape
    x, y = z1 - z1.mean(0), z2 - z2.mean(0)
    std_loss = (F.relu(1 - torch.sqrt(x.var(0) + eps)).mean() + F.relu(1 - torch.sqrt(y.var(0) + eps)).mean()) / 2
    cov_x, cov_y = x.T @ x / (n - 1), y.T @ y / (n - 1)
    cov_loss = ((cov_x.pow(2).sum() - cov_x.diagonal().pow(2).sum())
                + (cov_y.pow(2).sum() - cov_y.diagonal().pow(2).sum())) / d
    return sim_coeff * F.mse_loss(z1, z2) + std_coeff * std_loss + cov_coeff * cov_loss
