"""Bug: averages only over the N anchors of the first view (rows of z1), not all 2N.

expect: fail matches_reference, symmetric_in_the_two_views
"""

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape or temperature <= 0:
        raise ValueError("bad input")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    return F.cross_entropy(logits[:n], torch.arange(n) + n)
