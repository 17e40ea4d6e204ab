"""Correct: cosine similarity by broadcasting F.cosine_similarity, log_softmax and gather.

expect: pass
"""

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    if len(z1.shape) != 2 or tuple(z1.shape) != tuple(z2.shape) or z1.shape[0] == 0:
        raise ValueError("shape mismatch")
    if temperature <= 0:
        raise ValueError("temperature <= 0")
    z = torch.cat((z1, z2), dim=0)
    two_n = z.shape[0]
    unit = F.normalize(z, p=2, dim=1)
    sim = unit @ unit.transpose(0, 1)
    sim = sim.div(temperature)
    diag = torch.eye(two_n, device=z.device, dtype=torch.bool)
    log_p = F.log_softmax(sim.masked_fill(diag, float("-inf")), dim=1)
    partner = (torch.arange(two_n, device=z.device) + two_n // 2) % two_n
    return -log_p.gather(1, partner[:, None]).mean()
