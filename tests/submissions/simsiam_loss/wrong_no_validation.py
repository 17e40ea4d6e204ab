"""Bug: no shape validation: (N, D) predictions with (1, D) targets broadcast silently, and a 1-D
batch gives a cosine over the batch.

expect: fail rejects_mismatched_shapes
"""

import torch.nn.functional as F


def simsiam_loss(p1, p2, z1, z2):
    return -(F.cosine_similarity(p1, z2.detach(), dim=-1).mean()
             + F.cosine_similarity(p2, z1.detach(), dim=-1).mean()) / 2
