"""Bug: the scale is read out as a Python number (logit_scale.exp().item()), so the learnable
temperature gets no gradient and never trains; the values are right.

expect: fail logit_scale_and_bias_get_gradients, clip_gradients_match_reference, siglip_gradients_match_reference
"""

import torch
import torch.nn.functional as F


def _check(a, b):
    if a.dim() != 2 or b.dim() != 2 or a.shape != b.shape:
        raise ValueError("image_emb and text_emb must both be (N, D) with the same shape")


def _logits(image_emb, text_emb, logit_scale):
    _check(image_emb, text_emb)
    scale = logit_scale.exp().item()
    return scale * F.normalize(image_emb, dim=1) @ F.normalize(text_emb, dim=1).T


def clip_loss(image_emb, text_emb, logit_scale):
    logits = _logits(image_emb, text_emb, logit_scale)
    target = torch.arange(logits.shape[0])
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def siglip_loss(image_emb, text_emb, logit_scale, logit_bias):
    logits = _logits(image_emb, text_emb, logit_scale) + logit_bias
    labels = 2 * torch.eye(logits.shape[0], dtype=logits.dtype) - 1
    return -F.logsigmoid(labels * logits).sum() / logits.shape[0]
