"""Bug: normalizes the caller's tensors in place (z1.div_), changing the inputs.

expect: fail inputs_not_modified
"""

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape or temperature <= 0:
        raise ValueError("bad input")
    n = z1.shape[0]
    with torch.no_grad():
        z1.div_(z1.norm(dim=1, keepdim=True))
        z2.div_(z2.norm(dim=1, keepdim=True))
    z = torch.cat([z1, z2])
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(logits, torch.arange(2 * n).roll(n))
