"""Bug: divides by detached row norms, so the values are right but the gradients miss the normalization term.

expect: fail gradients_match_reference, gradcheck_float64
"""

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape or temperature <= 0:
        raise ValueError("bad input")
    n = z1.shape[0]
    z = torch.cat([z1, z2])
    z = z / z.norm(dim=1, keepdim=True).detach()
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(logits, torch.arange(2 * n).roll(n))
