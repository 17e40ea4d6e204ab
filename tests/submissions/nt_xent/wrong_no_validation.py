"""Bug: never validates its inputs, so mismatched shapes and temperature <= 0 raise no ValueError.

expect: fail rejects_mismatched_shapes, rejects_nonpositive_temperature
"""

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(logits, torch.arange(2 * n).roll(n))
