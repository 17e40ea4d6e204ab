"""Bug: normalizes the queries but not the keys, so the logits are not cosines.

expect: fail debiased_matches_reference, debiased_invariant_to_scaling_and_order
"""

import math

import torch
import torch.nn.functional as F


def debiased_info_nce(query, positive_key, negative_keys, temperature=0.5, tau_plus=0.1):
    if negative_keys is None or query.dim() != 2 or query.shape != positive_key.shape:
        raise ValueError("query and positive_key must be (B, D) of one shape, with negatives")
    if negative_keys.dim() != 2 or negative_keys.shape[1] != query.shape[1]:
        raise ValueError("negative_keys must be (M, D)")
    if not temperature > 0 or not 0 <= tau_plus < 1:
        raise ValueError("need temperature > 0 and 0 <= tau_plus < 1")
    m = negative_keys.shape[0]
    q = F.normalize(query, dim=1)
    pos = (q * positive_key).sum(1) / temperature
    neg = q @ negative_keys.T / temperature
    c = torch.maximum(pos, neg.max(1).values).detach()
    e_pos = torch.exp(pos - c)
    ng = (torch.exp(neg - c[:, None]).sum(1) - tau_plus * m * e_pos) / (1 - tau_plus)
    ng = torch.maximum(ng, m * torch.exp(-1 / temperature - c))
    return (torch.log(e_pos + ng) + c - pos).mean()


def decoupled_nt_xent(z1, z2, temperature=0.1):
    if z1.dim() != 2 or z1.shape != z2.shape or z1.shape[0] < 2 or not temperature > 0:
        raise ValueError("need z1, z2 of one shape (N, D), N >= 2, and temperature > 0")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    mask = eye | eye.roll(n, dims=1)
    positive = logits[torch.arange(2 * n), torch.arange(2 * n).roll(n)]
    return (torch.logsumexp(logits.masked_fill(mask, -math.inf), dim=1) - positive).mean()
