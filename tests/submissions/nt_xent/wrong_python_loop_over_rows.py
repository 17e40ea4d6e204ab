"""Bug: correct values, but a Python loop over the 2N anchors, one matrix-vector product and one
log-sum-exp each. At N = 2048 it is only 4-5x the reference; at N = 256 the per-row overhead
dominates (10-14x), which the speed check's second size shows.

expect: fail speed_vs_reference
"""

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError("z1 and z2 must both be (N, D) with the same shape")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)                          # (2N, D)
    losses = []
    for i in range(2 * n):
        row = z @ z[i] / temperature                                     # (2N,)
        others = torch.cat([row[:i], row[i + 1:]])                       # (2N - 1,) without the anchor
        positive = (i + n) % (2 * n)
        losses.append(torch.logsumexp(others, 0) - row[positive])
    return torch.stack(losses).mean()
