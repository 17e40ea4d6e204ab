"""Bug: CLIP softmax written with a raw exp(): exp(100) overflows float32 at a scale of 100.

expect: fail scale_100_float32, extreme_logits_float32
"""

import torch
import torch.nn.functional as F


def _check(a, b):
    if a.dim() != 2 or b.dim() != 2 or a.shape != b.shape:
        raise ValueError("image_emb and text_emb must both be (N, D) with the same shape")


def clip_loss(image_emb, text_emb, logit_scale):
    _check(image_emb, text_emb)
    logits = logit_scale.exp() * F.normalize(image_emb, dim=1) @ F.normalize(text_emb, dim=1).T
    e = logits.exp()
    diagonal = e.diagonal()
    rows = -torch.log(diagonal / e.sum(dim=1)).mean()
    columns = -torch.log(diagonal / e.sum(dim=0)).mean()
    return (rows + columns) / 2


def siglip_loss(image_emb, text_emb, logit_scale, logit_bias):
    _check(image_emb, text_emb)
    logits = logit_scale.exp() * F.normalize(image_emb, dim=1) @ F.normalize(text_emb, dim=1).T + logit_bias
    labels = 2 * torch.eye(logits.shape[0], dtype=logits.dtype) - 1
    return -F.logsigmoid(labels * logits).sum() / logits.shape[0]
