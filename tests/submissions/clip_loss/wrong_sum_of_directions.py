"""Bug: CLIP adds the two directions without halving (image-to-text + text-to-image).

expect: fail worked_example_from_spec, clip_matches_reference
"""

import torch
import torch.nn.functional as F


def _check(a, b):
    if a.dim() != 2 or b.dim() != 2 or a.shape != b.shape:
        raise ValueError("image_emb and text_emb must both be (N, D) with the same shape")


def clip_loss(image_emb, text_emb, logit_scale):
    _check(image_emb, text_emb)
    logits = logit_scale.exp() * F.normalize(image_emb, dim=1) @ F.normalize(text_emb, dim=1).T
    target = torch.arange(logits.shape[0])
    return F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)


def siglip_loss(image_emb, text_emb, logit_scale, logit_bias):
    _check(image_emb, text_emb)
    logits = logit_scale.exp() * F.normalize(image_emb, dim=1) @ F.normalize(text_emb, dim=1).T + logit_bias
    labels = 2 * torch.eye(logits.shape[0], dtype=logits.dtype) - 1
    return -F.logsigmoid(labels * logits).sum() / logits.shape[0]
