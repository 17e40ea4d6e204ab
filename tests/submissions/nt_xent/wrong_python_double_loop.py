"""Bug: correct values, but a Python double loop over anchors and candidates: far too slow.

expect: fail speed_vs_reference
"""

import math

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape or temperature <= 0:
        raise ValueError("bad input")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    losses = []
    for i in range(2 * n):
        terms = []
        for k in range(2 * n):
            if k != i:
                terms.append(torch.dot(z[i], z[k]) / temperature)
        positive = torch.dot(z[i], z[(i + n) % (2 * n)]) / temperature
        losses.append(torch.logsumexp(torch.stack(terms), 0) - positive)
    return torch.stack(losses).mean() + 0 * math.pi
