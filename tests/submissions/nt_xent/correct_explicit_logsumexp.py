"""Correct: explicit max-shifted log-sum-exp over a boolean mask, per-anchor losses averaged.

expect: pass
"""

import torch


def nt_xent(z1, z2, temperature=0.5):
    if not (z1.dim() == 2 and z1.shape == z2.shape and z1.shape[0] > 0):
        raise ValueError(f"expected two (N, D) tensors of one shape, got {tuple(z1.shape)}, {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    n = z1.shape[0]
    z = torch.cat([z1, z2])
    z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sim = (z @ z.T) / temperature
    keep = ~torch.eye(2 * n, dtype=torch.bool, device=z.device)
    masked = sim.masked_fill(~keep, float("-inf"))
    peak = masked.max(dim=1, keepdim=True).values.detach()
    log_denominator = peak.squeeze(1) + torch.log(torch.exp(masked - peak).sum(dim=1))
    idx = torch.arange(2 * n, device=z.device)
    positive = sim[idx, (idx + n) % (2 * n)]
    return (log_denominator - positive).mean()
