"""Correct: einsum for every similarity and an explicit log-sum-exp per row.

expect: pass
"""

import torch


def _unit(x):
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def info_nce(query, positive_key, negative_keys=None, temperature=0.1, negative_mode="unpaired"):
    if negative_mode not in ("unpaired", "paired"):
        raise ValueError(f"unknown negative_mode {negative_mode!r}")
    if query.ndim != 2 or query.shape != positive_key.shape or query.shape[0] < 1:
        raise ValueError("query and positive_key must be (N, D)")
    n, d = query.shape
    if negative_keys is not None:
        want = 2 if negative_mode == "unpaired" else 3
        if negative_keys.ndim != want or negative_keys.shape[-1] != d or (want == 3 and negative_keys.shape[0] != n):
            raise ValueError(f"negative_keys of shape {tuple(negative_keys.shape)} do not fit {negative_mode}")
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    q, k = _unit(query), _unit(positive_key)
    if negative_keys is None:
        logits = torch.einsum("id,jd->ij", q, k) / temperature
        positive = logits.diagonal()
    else:
        neg = _unit(negative_keys)
        positive = torch.einsum("nd,nd->n", q, k) / temperature
        if negative_mode == "unpaired":
            negative = torch.einsum("nd,md->nm", q, neg) / temperature
        else:
            negative = torch.einsum("nd,nmd->nm", q, neg) / temperature
        logits = torch.cat([positive[:, None], negative], dim=1)
    return (torch.logsumexp(logits, dim=1) - positive).mean()
