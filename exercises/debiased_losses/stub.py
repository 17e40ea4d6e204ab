"""Exercise debiased_losses: the debiased InfoNCE loss and the decoupled NT-Xent loss.

Read spec.md in this folder, then run `grade debiased_losses`.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will probably want it)


def debiased_info_nce(query: torch.Tensor, positive_key: torch.Tensor, negative_keys: torch.Tensor,
                      temperature: float = 0.5, tau_plus: float = 0.1) -> torch.Tensor:
    """query, positive_key: (B, D); negative_keys: (M, D), shared by every query. Returns the 0-dim mean loss."""
    # TODO: validate, L2-normalize every vector, compute p_i = q_i.k_i / t and s_ij = q_i.n_j / t,
    # the debiased N g = (sum_j e^{s_ij} - tau_plus M e^{p_i}) / (1 - tau_plus) clamped at M e^{-1/t},
    # and average -log(e^{p_i} / (e^{p_i} + N g)) over the queries, without overflow at t = 0.01.
    raise NotImplementedError


def decoupled_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """z1, z2: (N, D), N >= 2, row i of each is a view of sample i. Returns the 0-dim mean loss."""
    # TODO: NT-Xent over the 2N stacked views, with both the anchor itself and its positive
    # removed from the denominator; the mean over the 2N anchors.
    raise NotImplementedError
