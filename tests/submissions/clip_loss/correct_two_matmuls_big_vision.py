"""Correct: two logit matrices (image @ text.T and text @ image.T) for CLIP, as the CLIP paper's
Figure 3 pseudo-code suggests; SigLIP as big_vision writes it: the sum over each row of
log sigmoid(labels * logits), then minus the mean over the rows (that is, the total over N).

expect: pass
"""

import torch
import torch.nn.functional as F


def _unit(x):
    return x * torch.rsqrt((x * x).sum(dim=1, keepdim=True).clamp_min(1e-24))


def _check(a, b):
    if a.dim() != 2 or b.dim() != 2:
        raise ValueError("embeddings must be 2-D")
    if a.shape != b.shape:
        raise ValueError("image_emb and text_emb shapes differ")


def clip_loss(image_emb, text_emb, logit_scale):
    _check(image_emb, text_emb)
    image, text = _unit(image_emb), _unit(text_emb)
    scale = logit_scale.exp()
    logits_per_image = scale * image @ text.T
    logits_per_text = scale * text @ image.T
    labels = torch.arange(image.shape[0], device=image.device)
    return 0.5 * (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels))


def siglip_loss(image_emb, text_emb, logit_scale, logit_bias):
    _check(image_emb, text_emb)
    image, text = _unit(image_emb), _unit(text_emb)
    logits = image @ text.T * logit_scale.exp() + logit_bias
    labels = 2 * torch.eye(image.shape[0], dtype=logits.dtype, device=logits.device) - 1
    return -torch.mean(torch.sum(F.logsigmoid(labels * logits), dim=-1))
