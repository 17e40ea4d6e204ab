"""Correct: log-sum-exp over both dimensions of one logit matrix, and SigLIP as two softplus sums.

CLIP: sum_i (lse_row_i - l_ii) + sum_j (lse_col_j - l_jj), divided by 2N. SigLIP: -log sigmoid(x) is
softplus(-x): the diagonal with softplus(-l), everything else with softplus(l).

expect: pass
"""

import torch


def _logits(image_emb, text_emb, logit_scale):
    if image_emb.dim() != 2 or image_emb.shape != text_emb.shape:
        raise ValueError("expected two (N, D) tensors of the same shape")
    image = image_emb / image_emb.norm(dim=1, keepdim=True).clamp_min(1e-12)
    text = text_emb / text_emb.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.exp(logit_scale) * (image @ text.T)


def clip_loss(image_emb, text_emb, logit_scale):
    logits = _logits(image_emb, text_emb, logit_scale)
    n = logits.shape[0]
    diagonal = logits.diagonal().sum()
    return (torch.logsumexp(logits, dim=1).sum() + torch.logsumexp(logits, dim=0).sum() - 2 * diagonal) / (2 * n)


def siglip_loss(image_emb, text_emb, logit_scale, logit_bias):
    logits = _logits(image_emb, text_emb, logit_scale) + logit_bias
    n = logits.shape[0]
    match = torch.eye(n, dtype=torch.bool, device=logits.device)
    positives = torch.nn.functional.softplus(-logits[match]).sum()
    negatives = torch.nn.functional.softplus(logits[~match]).sum()
    return (positives + negatives) / n
