"""Correct: the SupContrast (HobbitLong/SupContrast, losses.py) SupConLoss recipe in its
contrast_mode='all', rewritten to fit the spec: rows L2-normalized inside, no
temperature / base_temperature factor, the row maximum taken with the anchor excluded, the self
term masked with -inf before the log-sum-exp (not exp() * mask + 1e-9), anchors without a positive
left out of the mean instead of 0 / 0, and the ValueErrors of the contract.

expect: pass
"""

import torch
import torch.nn.functional as F


def supcon_loss(features, labels=None, temperature=0.1):
    if features.dim() != 3:
        raise ValueError("`features` needs to be [bsz, n_views, dim]")
    batch_size, n_views = features.shape[:2]
    if labels is None:
        mask = torch.eye(batch_size, dtype=torch.float32, device=features.device)
    else:
        labels = labels.contiguous().view(-1, 1)
        if labels.shape[0] != batch_size:
            raise ValueError("Num of labels does not match num of features")
        mask = torch.eq(labels, labels.T).float().to(features.device)
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    contrast_feature = torch.cat(torch.unbind(F.normalize(features, dim=-1), dim=1), dim=0)   # view-major
    logits_mask = torch.scatter(torch.ones(batch_size * n_views, batch_size * n_views, device=features.device),
                                1, torch.arange(batch_size * n_views, device=features.device).view(-1, 1), 0)
    mask = mask.repeat(n_views, n_views) * logits_mask
    pairs = mask.sum(1)
    if not (pairs > 0).any():
        raise ValueError("no anchor has a positive")
    anchor_dot_contrast = contrast_feature @ contrast_feature.T / temperature
    anchor_dot_contrast = anchor_dot_contrast.masked_fill(logits_mask == 0, float("-inf"))
    logits = anchor_dot_contrast - anchor_dot_contrast.max(dim=1, keepdim=True).values.detach()
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    mean_log_prob_pos = (mask * log_prob.masked_fill(logits_mask == 0, 0.0)).sum(1)[pairs > 0] / pairs[pairs > 0]
    return -mean_log_prob_pos.mean()
