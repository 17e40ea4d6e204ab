"""Bug: the biased variance (unbiased=False) in the variance term: sqrt((N - 1) / N) smaller, so
the hinge is larger; plain at small N.

expect: fail vicreg_worked_example_from_spec, vicreg_small_batches_and_near_identical_views, vicreg_closed_form_identical_views
"""

import torch
import torch.nn.functional as F


def barlow_twins_loss(z1, z2, lambd=5e-3):
    if z1.dim() != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError("z1 and z2 must be (N, D) of the same shape with N >= 2")
    if not lambd >= 0:
        raise ValueError("lambd must be >= 0")
    n = z1.shape[0]
    a = (z1 - z1.mean(0)) / torch.sqrt(z1.var(0, unbiased=False) + 1e-5)
    b = (z2 - z2.mean(0)) / torch.sqrt(z2.var(0, unbiased=False) + 1e-5)
    c = a.T @ b / n
    on_diag = (1 - torch.diagonal(c)).pow(2).sum()
    off_diag = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    return on_diag + lambd * off_diag


def vicreg_loss(z1, z2, sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0, eps=1e-4):
    if z1.dim() != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError("z1 and z2 must be (N, D) of the same shape with N >= 2")
    if not (sim_coeff >= 0 and std_coeff >= 0 and cov_coeff >= 0 and eps >= 0):
        raise ValueError("coefficients and eps must be >= 0")
    n, d = z1.shape
    repr_loss = F.mse_loss(z1, z2)
    x = z1 - z1.mean(dim=0)
    y = z2 - z2.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0, unbiased=False) + eps)
    std_y = torch.sqrt(y.var(dim=0, unbiased=False) + eps)
    std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
    cov_x = x.T @ x / (n - 1)
    cov_y = y.T @ y / (n - 1)
    off_x = cov_x.pow(2).sum() - cov_x.diagonal().pow(2).sum()
    off_y = cov_y.pow(2).sum() - cov_y.diagonal().pow(2).sum()
    cov_loss = off_x / d + off_y / d
    return sim_coeff * repr_loss + std_coeff * std_loss + cov_coeff * cov_loss
