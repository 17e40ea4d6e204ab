"""Correct: the debiased loss as a two-class cross-entropy over [p, log N g] with class 0 the
target; N g computed with each row shifted by its largest logit, its log taken only where it is
positive (a log of 0 would send nan through the gradient). DCL with the anchor and its positive
set to -inf by fill_diagonal_ and scatter.

expect: pass
"""

import math

import torch
import torch.nn.functional as F


def debiased_info_nce(query, positive_key, negative_keys, temperature=0.5, tau_plus=0.1):
    if negative_keys is None or query.ndim != 2 or query.shape != positive_key.shape:
        raise ValueError("bad query or positive_key")
    if negative_keys.ndim != 2 or negative_keys.shape[1] != query.shape[1]:
        raise ValueError("bad negative_keys")
    if not temperature > 0 or not (0 <= tau_plus < 1):
        raise ValueError("bad temperature or tau_plus")
    m = negative_keys.shape[0]
    q = F.normalize(query, dim=1)
    pos = torch.einsum("bd,bd->b", q, F.normalize(positive_key, dim=1)) / temperature
    neg = torch.einsum("bd,md->bm", q, F.normalize(negative_keys, dim=1)) / temperature
    top = torch.maximum(pos, neg.amax(dim=1)).detach()       # e^(x - top) <= 1, no overflow
    raw = ((neg - top[:, None]).exp().sum(1) - tau_plus * m * (pos - top).exp()) / (1 - tau_plus)
    positive = raw > 0
    log_raw = torch.where(positive, torch.log(torch.where(positive, raw, torch.ones_like(raw))) + top,
                          torch.full_like(raw, -math.inf))
    log_ng = torch.maximum(log_raw, torch.full_like(raw, math.log(m) - 1 / temperature))
    logits = torch.stack([pos, log_ng], dim=1)                # (B, 2): the positive, then log N g
    return F.cross_entropy(logits, torch.zeros(len(pos), dtype=torch.long, device=pos.device))


def decoupled_nt_xent(z1, z2, temperature=0.1):
    if z1.ndim != 2 or z1.shape != z2.shape or z1.shape[0] < 2 or not temperature > 0:
        raise ValueError("bad input")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    target = torch.arange(2 * n, device=z.device).roll(n)
    positive = logits.gather(1, target[:, None]).squeeze(1)
    masked = logits.clone()
    masked.fill_diagonal_(float("-inf"))
    masked = masked.scatter(1, target[:, None], float("-inf"))
    return (torch.logsumexp(masked, dim=1) - positive).mean()
