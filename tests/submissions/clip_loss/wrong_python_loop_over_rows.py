"""Bug (speed): one cross-entropy per image and per text in a Python loop; right values, 15-90x slower.

expect: fail speed_vs_reference
"""

import torch
import torch.nn.functional as F


def _check(a, b):
    if a.dim() != 2 or b.dim() != 2 or a.shape != b.shape:
        raise ValueError("image_emb and text_emb must both be (N, D) with the same shape")


def clip_loss(image_emb, text_emb, logit_scale):
    _check(image_emb, text_emb)
    image, text = F.normalize(image_emb, dim=1), F.normalize(text_emb, dim=1)
    scale, n = logit_scale.exp(), image.shape[0]
    total = 0.0
    for i in range(n):
        target = torch.tensor(i)
        total = total + F.cross_entropy(scale * (image[i] @ text.T), target)
        total = total + F.cross_entropy(scale * (text[i] @ image.T), target)
    return total / (2 * n)


def siglip_loss(image_emb, text_emb, logit_scale, logit_bias):
    _check(image_emb, text_emb)
    image, text = F.normalize(image_emb, dim=1), F.normalize(text_emb, dim=1)
    scale, n = logit_scale.exp(), image.shape[0]
    total = 0.0
    for i in range(n):
        labels = -torch.ones(n, dtype=image.dtype)
        labels[i] = 1
        total = total - F.logsigmoid(labels * (scale * (image[i] @ text.T) + logit_bias)).sum()
    return total / n
