"""Ports sentence-transformers' MultipleNegativesRankingLoss (cos_sim of anchors against
[positives ; negatives], cross_entropy with labels arange(N)), adapted to the spec: in the
unpaired mode the other queries' positives are masked out with -inf, so row i's candidates are
exactly its own positive plus the M shared negatives. Paired mode uses einsum.

Written blind from the spec (round 3).
expect: pass
"""

import torch
import torch.nn.functional as F


def _validate(query, positive_key, negative_keys, temperature, negative_mode):
    if negative_mode not in ("unpaired", "paired"):
        raise ValueError(f"negative_mode must be 'unpaired' or 'paired', got {negative_mode!r}")
    if query.dim() != 2 or positive_key.dim() != 2:
        raise ValueError("query and positive_key must be 2-D (N, D)")
    if query.shape != positive_key.shape:
        raise ValueError("query and positive_key must have the same shape")
    n, d = query.shape
    if negative_keys is not None:
        if negative_mode == "unpaired":
            if negative_keys.dim() != 2 or negative_keys.shape[1] != d:
                raise ValueError("unpaired negative_keys must have shape (M, D)")
        else:
            if negative_keys.dim() != 3 or negative_keys.shape[0] != n or negative_keys.shape[2] != d:
                raise ValueError("paired negative_keys must have shape (N, M, D)")
    if temperature <= 0:
        raise ValueError("temperature must be > 0")


def _cos_sim(a, b):
    return F.normalize(a, p=2, dim=-1) @ F.normalize(b, p=2, dim=-1).transpose(-2, -1)


def info_nce(query: torch.Tensor, positive_key: torch.Tensor, negative_keys: torch.Tensor = None,
             temperature: float = 0.1, negative_mode: str = "unpaired") -> torch.Tensor:
    _validate(query, positive_key, negative_keys, temperature, negative_mode)
    n = query.shape[0]
    labels = torch.arange(n, device=query.device)
    if negative_keys is None:
        scores = _cos_sim(query, positive_key) / temperature
        return F.cross_entropy(scores, labels)
    if negative_mode == "unpaired":
        scores = _cos_sim(query, torch.cat([positive_key, negative_keys], dim=0)) / temperature
        keep = torch.eye(n, dtype=torch.bool, device=query.device)
        block = scores[:, :n].masked_fill(~keep, float("-inf"))
        scores = torch.cat([block, scores[:, n:]], dim=1)
        return F.cross_entropy(scores, labels)
    q = F.normalize(query, dim=-1)
    k = F.normalize(positive_key, dim=-1)
    neg = F.normalize(negative_keys, dim=-1)
    pos = (q * k).sum(-1, keepdim=True)
    negs = torch.einsum("nd,nmd->nm", q, neg)
    scores = torch.cat([pos, negs], dim=1) / temperature
    return F.cross_entropy(scores, torch.zeros_like(labels))
