"""Correct: everything in log space. log N g = log(A - B) - log(1 - tau+) with
log A = logsumexp(s) and log(A - B) = log A + log(-expm1(log B - log A)); the clamp is a maximum
of logs; the loss is softplus(log N g - p). DCL by cross-view and same-view blocks.

expect: pass
"""

import math

import torch
import torch.nn.functional as F


def debiased_info_nce(query, positive_key, negative_keys, temperature=0.5, tau_plus=0.1):
    if negative_keys is None or query.dim() != 2 or query.shape != positive_key.shape:
        raise ValueError("query and positive_key must be (B, D) of the same shape")
    if negative_keys.dim() != 2 or negative_keys.shape[1] != query.shape[1]:
        raise ValueError("negative_keys must be (M, D)")
    if not (temperature > 0 and 0 <= tau_plus < 1):
        raise ValueError("need temperature > 0 and 0 <= tau_plus < 1")
    m = negative_keys.shape[0]
    q, k, n = (F.normalize(x, dim=-1) for x in (query, positive_key, negative_keys))
    pos = (q * k).sum(-1) / temperature                            # (B,)
    log_a = torch.logsumexp(q @ n.T / temperature, dim=-1)         # (B,)
    if tau_plus > 0:
        log_b = math.log(tau_plus * m) + pos
        ratio = torch.where(log_b < log_a, log_b - log_a, torch.full_like(log_a, -1.0))
        log_diff = torch.where(log_b < log_a, log_a + torch.log(-torch.expm1(ratio)),
                               torch.full_like(log_a, -math.inf))
    else:
        log_diff = log_a
    log_ng = torch.maximum(log_diff - math.log1p(-tau_plus),
                           torch.full_like(log_a, math.log(m) - 1 / temperature))
    return F.softplus(log_ng - pos).mean()


def decoupled_nt_xent(z1, z2, temperature=0.1):
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError("z1 and z2 must be (N, D) of the same shape")
    if z1.shape[0] < 2:
        raise ValueError("need N >= 2")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    eye = torch.eye(a.shape[0], dtype=torch.bool, device=a.device)
    total = 0
    for x, y in ((a, b), (b, a)):
        same = (x @ x.T / temperature).masked_fill(eye, -math.inf)
        cross = x @ y.T / temperature
        positive = cross.diagonal()
        negatives = torch.cat([same, cross.masked_fill(eye, -math.inf)], dim=1)
        total = total + (torch.logsumexp(negatives, dim=1) - positive).mean()
    return total / 2
