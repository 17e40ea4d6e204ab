"""Bug: F.normalize(x, dim=0) normalizes each feature over the batch instead of each embedding.

expect: fail clip_matches_reference, siglip_matches_reference, invariant_to_scaling_rows
"""

import torch
import torch.nn.functional as F


def _check(a, b):
    if a.dim() != 2 or b.dim() != 2 or a.shape != b.shape:
        raise ValueError("image_emb and text_emb must both be (N, D) with the same shape")


def _logits(image_emb, text_emb, logit_scale):
    _check(image_emb, text_emb)
    return logit_scale.exp() * F.normalize(image_emb, dim=0) @ F.normalize(text_emb, dim=0).T


def clip_loss(image_emb, text_emb, logit_scale):
    logits = _logits(image_emb, text_emb, logit_scale)
    target = torch.arange(logits.shape[0])
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def siglip_loss(image_emb, text_emb, logit_scale, logit_bias):
    logits = _logits(image_emb, text_emb, logit_scale) + logit_bias
    labels = 2 * torch.eye(logits.shape[0], dtype=logits.dtype) - 1
    return -F.logsigmoid(labels * logits).sum() / logits.shape[0]
