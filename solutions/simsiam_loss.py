"""Reference SimSiam loss: symmetric negative cosine similarity with a stop-gradient on the targets.

Chen, He. "Exploring Simple Siamese Representation Learning", CVPR 2021: eq. (1)
D(p, z) = -(p / |p|) . (z / |z|), used as D(p, stopgrad(z)) (eq. 3) in the symmetric
loss L = D(p1, stopgrad(z2)) / 2 + D(p2, stopgrad(z1)) / 2 (eq. 4), averaged over the
batch as in the paper's Algorithm 1 and the released code (facebookresearch/simsiam,
main_simsiam.py: -(cos(p1, z2).mean() + cos(p2, z1).mean()) * 0.5, with z detached).
"""

import torch
import torch.nn.functional as F


def _validate(p1, p2, z1, z2):
    tensors = (p1, p2, z1, z2)
    if not all(isinstance(t, torch.Tensor) for t in tensors):
        raise ValueError("p1, p2, z1 and z2 must be tensors")
    shapes = [tuple(t.shape) for t in tensors]
    if p1.dim() != 2 or len(set(shapes)) != 1:
        raise ValueError(f"p1, p2, z1 and z2 must all have one shape (N, D), got {shapes}")
    if p1.shape[0] < 1 or p1.shape[1] < 1:
        raise ValueError(f"need N >= 1 and D >= 1, got shape {shapes[0]}")


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """D(p, stopgrad(z)): minus the batch mean of the cosine between rows of p and z."""
    p = F.normalize(p, dim=1)                         # (N, D) unit rows
    z = F.normalize(z.detach(), dim=1)                # (N, D) unit rows, no gradient
    return -(p * z).sum(dim=1).mean()                 # 0-dim


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Symmetric SimSiam loss: each view's prediction p is pulled towards the other view's z."""
    _validate(p1, p2, z1, z2)
    return negative_cosine(p1, z2) / 2 + negative_cosine(p2, z1) / 2   # 0-dim, in [-1, 1]
