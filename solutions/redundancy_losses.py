"""Reference redundancy-reduction losses: Barlow Twins and VICReg, no negatives needed.

barlow_twins_loss: Zbontar, Jing, Misra, LeCun, Deny. "Barlow Twins: Self-Supervised Learning
via Redundancy Reduction", ICML 2021, eq. (1)-(2), as the released code computes it
(github.com/facebookresearch/barlowtwins, main.py): each feature standardized over the batch by
BatchNorm1d(affine=False) (biased variance, eps = 1e-5), C = z1n.T @ z2n / N.

vicreg_loss: Bardes, Ponce, LeCun. "VICReg: Variance-Invariance-Covariance Regularization for
Self-Supervised Learning", ICLR 2022, eq. (1)-(6), as the released code computes it
(github.com/facebookresearch/vicreg, main_vicreg.py): the invariance term is F.mse_loss (a mean
over N * D), the variance term the mean over features of relu(1 - sqrt(var + eps)) with the
unbiased variance, averaged over the two views, the covariance term the sum over both views of
the squared off-diagonal entries of the (N - 1)-normalized covariance, each divided by D.
"""

import torch
import torch.nn.functional as F

BATCH_NORM_EPS = 1e-5    # torch.nn.BatchNorm1d's default, which the Barlow Twins code uses


def _shape(t):
    return tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__


def _validate(z1, z2, **coefficients):
    if not (isinstance(z1, torch.Tensor) and isinstance(z2, torch.Tensor)):
        raise ValueError("z1 and z2 must be tensors")
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must be (N, D) of the same shape, got {_shape(z1)} and {_shape(z2)}")
    if z1.shape[0] < 2 or z1.shape[1] < 1:
        raise ValueError(f"need N >= 2 (a variance over the batch) and D >= 1, got {_shape(z1)}")
    for name, value in coefficients.items():
        if not value >= 0:                         # also False for NaN
            raise ValueError(f"{name} must be >= 0, got {value}")


def _off_diagonal_sum_of_squares(matrix):
    """sum_{i != j} M_ij^2 of a square matrix. The diagonal is zeroed, not subtracted: next to a
    diagonal near 1 a subtraction would lose the small off-diagonal sum to rounding."""
    return matrix.pow(2).fill_diagonal_(0).sum()


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambd: float = 5e-3) -> torch.Tensor:
    """sum_i (1 - C_ii)^2 + lambd * sum_{i != j} C_ij^2 of the (D, D) cross-correlation C."""
    _validate(z1, z2, lambd=lambd)
    n = z1.shape[0]
    z1n = F.batch_norm(z1, None, None, training=True, eps=BATCH_NORM_EPS)   # (N, D) per feature
    z2n = F.batch_norm(z2, None, None, training=True, eps=BATCH_NORM_EPS)   # (N, D)
    c = z1n.T @ z2n / n                                                     # (D, D)
    on_diagonal = (1 - c.diagonal()).pow(2).sum()
    return on_diagonal + lambd * _off_diagonal_sum_of_squares(c)            # 0-dim


def _variance_and_covariance_terms(z, eps):
    n, d = z.shape
    centered = z - z.mean(dim=0)                                           # (N, D)
    std = torch.sqrt(centered.pow(2).sum(dim=0) / (n - 1) + eps)            # (D,) unbiased variance
    cov = centered.T @ centered / (n - 1)                                   # (D, D)
    return F.relu(1 - std).mean(), _off_diagonal_sum_of_squares(cov) / d


def vicreg_loss(z1: torch.Tensor, z2: torch.Tensor, sim_coeff: float = 25.0, std_coeff: float = 25.0,
                cov_coeff: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    """sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance, as main_vicreg.py."""
    _validate(z1, z2, sim_coeff=sim_coeff, std_coeff=std_coeff, cov_coeff=cov_coeff, eps=eps)
    invariance = F.mse_loss(z1, z2)                                         # mean over N * D
    std1, cov1 = _variance_and_covariance_terms(z1, eps)
    std2, cov2 = _variance_and_covariance_terms(z2, eps)
    return sim_coeff * invariance + std_coeff * (std1 + std2) / 2 + cov_coeff * (cov1 + cov2)
