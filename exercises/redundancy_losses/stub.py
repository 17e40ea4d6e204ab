"""Exercise redundancy_losses: the Barlow Twins and VICReg losses.

Read spec.md in this folder, then run `grade redundancy_losses`.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will probably want it)


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambd: float = 5e-3) -> torch.Tensor:
    """z1, z2: (N, D) embeddings of two views, N >= 2. Returns the 0-dim loss."""
    # TODO: validate, standardize each feature over the batch as BatchNorm without affine does,
    # build the (D, D) cross-correlation C = z1n.T @ z2n / N, and return
    # sum_i (1 - C_ii)^2 + lambd * sum_{i != j} C_ij^2.
    raise NotImplementedError


def vicreg_loss(z1: torch.Tensor, z2: torch.Tensor, sim_coeff: float = 25.0, std_coeff: float = 25.0,
                cov_coeff: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    """z1, z2: (N, D) embeddings of two views, N >= 2. Returns the 0-dim loss."""
    # TODO: validate, then the invariance (mean squared error), variance (hinge on each feature's
    # standard deviation) and covariance (squared off-diagonal covariances) terms, weighted and
    # normalized as the released VICReg code does (see spec.md).
    raise NotImplementedError
