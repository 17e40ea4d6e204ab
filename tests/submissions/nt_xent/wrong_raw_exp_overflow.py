"""Bug: computes softmax with raw exp() and log(), which overflows to inf/nan at low temperature in float32.

expect: fail low_temperature_float32
"""

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape or temperature <= 0:
        raise ValueError("bad input")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = torch.exp(z @ z.T / temperature)
    mask = ~torch.eye(2 * n, dtype=torch.bool)
    denominator = (sim * mask).sum(dim=1)
    positive = sim[torch.arange(2 * n), torch.arange(2 * n).roll(n)]
    return -torch.log(positive / denominator).mean()
