"""Correct: computes in float64 and casts the loss back to the inputs' dtype. Its float32
gradients are the most accurate of all; at D = 1, where the true gradient is 0, they are
exactly 0 while the float32 reference returns rounding noise. The grader must accept it
(seed 3 draws such a case: N = 18, D = 1, t = 0.01). Its speed, 2.8x the reference at N = 2048,
is just under the 3x limit (the spec says so); the catalogue skips speed for correct files.

expect: pass
seed: 3
"""

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z2.dim() != 2 or z1.shape != z2.shape:
        raise ValueError("z1 and z2 must both be (N, D) with the same shape")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).double(), dim=1)                 # (2N, D)
    logits = z @ z.T / temperature                                       # (2N, 2N)
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positives = torch.arange(2 * n, device=z.device).roll(n)             # (2N,)
    loss = (torch.logsumexp(logits, dim=1) - logits[torch.arange(2 * n), positives]).mean()
    return loss.to(z1.dtype)
