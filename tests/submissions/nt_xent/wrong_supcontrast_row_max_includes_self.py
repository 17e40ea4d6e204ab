"""The SupContrast (HobbitLong) SupConLoss recipe with labels=None, rewritten: shift each row by
its maximum taken over the whole row, the anchor's own 1/t INCLUDED, then zero the self term
after exp() with a mask. Rows are normalized and the base temperature equals t. Violates "Must be numerically stable
(no inf or nan) for temperatures in [0.01, 10] in float32": with t = 0.01 every other logit sits
~100-200 below the self-similarity, exp() underflows to 0 and log(0) gives inf (e.g. N=1, z2=-z1).

Written blind from the spec (round 3).
expect: fail matches_reference, large_and_small_norms
"""

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError("z1 and z2 must both be (N, D) with the same shape")
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    n = z1.shape[0]
    views = F.normalize(torch.cat([z1, z2]), dim=1)                    # (2N, D)
    scores = views @ views.T / temperature                            # (2N, 2N)
    shifted = scores - scores.max(dim=1, keepdim=True).values.detach()  # the max is the self term
    not_self = 1.0 - torch.eye(2 * n, dtype=z1.dtype, device=z1.device)
    partner = torch.arange(2 * n, device=z1.device).roll(n)            # row i's other view
    # exp() of every other logit underflows to 0 when it sits ~100 below 1/t: log(0) = -inf
    log_denominator = torch.log((torch.exp(shifted) * not_self).sum(dim=1))
    log_prob = shifted[torch.arange(2 * n, device=z1.device), partner] - log_denominator
    return -log_prob.mean()
