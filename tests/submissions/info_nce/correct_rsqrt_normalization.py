"""Correct: normalizes with x * rsqrt(max(|x|^2, eps^2)) instead of F.normalize. At D = 1,
where the true gradients are 0, its float32 rounding noise differs from the reference's;
the grader must still accept it (seed 5 draws such a case).

expect: pass
seed: 5
"""

import torch
import torch.nn.functional as F


def _unit(x):
    return x * torch.rsqrt((x * x).sum(dim=-1, keepdim=True).clamp_min(1e-24))


def info_nce(query, positive_key, negative_keys=None, temperature=0.1, negative_mode="unpaired"):
    if negative_mode not in ("unpaired", "paired"):
        raise ValueError(f"negative_mode must be 'unpaired' or 'paired', got {negative_mode!r}")
    if query.dim() != 2 or positive_key.shape != query.shape:
        raise ValueError("query and positive_key must both be (N, D)")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    n, d = query.shape
    q, k = _unit(query), _unit(positive_key)
    if negative_keys is None:
        return F.cross_entropy(q @ k.T / temperature, torch.arange(n, device=query.device))
    if negative_mode == "unpaired" and (negative_keys.dim() != 2 or negative_keys.shape[1] != d):
        raise ValueError("unpaired negative_keys must be (M, D)")
    if negative_mode == "paired" and (negative_keys.dim() != 3 or negative_keys.shape[0] != n
                                      or negative_keys.shape[2] != d):
        raise ValueError("paired negative_keys must be (N, M, D)")
    neg = _unit(negative_keys)
    pos = (q * k).sum(dim=1, keepdim=True)                                     # (N, 1)
    negs = q @ neg.T if negative_mode == "unpaired" else torch.einsum("nd,nmd->nm", q, neg)  # (N, M)
    logits = torch.cat([pos, negs], dim=1) / temperature                       # (N, 1 + M)
    return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=query.device))
