"""Bug: takes negatives from the other view only (an N x N cross-view softmax, as in CLIP), dropping
the same-view negatives that NT-Xent keeps.

expect: fail matches_reference, worked_example_from_spec
"""

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape or temperature <= 0:
        raise ValueError("bad input")
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    logits = a @ b.T / temperature
    target = torch.arange(z1.shape[0])
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
