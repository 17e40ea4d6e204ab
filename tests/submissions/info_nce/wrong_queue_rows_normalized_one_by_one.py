"""Bug: correct values, but the negatives are normalized one row at a time in a Python loop of
torch operations. Against a long queue (N=64, M=16384) the loop costs far more than the matrix
product it feeds.

expect: fail speed_vs_reference
"""

import torch
import torch.nn.functional as F


def _unit(rows):
    return torch.stack([row / row.norm().clamp_min(1e-12) for row in rows])


def info_nce(query, positive_key, negative_keys=None, temperature=0.1, negative_mode="unpaired"):
    if negative_mode not in ("unpaired", "paired"):
        raise ValueError("negative_mode must be unpaired or paired")
    if query.dim() != 2 or query.shape != positive_key.shape or temperature <= 0:
        raise ValueError("bad query, positive_key or temperature")
    q, k = F.normalize(query, dim=-1), F.normalize(positive_key, dim=-1)
    if negative_keys is None:
        return F.cross_entropy(q @ k.T / temperature, torch.arange(len(q), device=q.device))
    n, d = query.shape
    want = (negative_keys.shape[0], d) if negative_mode == "unpaired" else (n, negative_keys.shape[1], d)
    if tuple(negative_keys.shape) != want:
        raise ValueError("negative_keys do not fit negative_mode")
    positive = (q * k).sum(-1, keepdim=True)                                   # (N, 1)
    if negative_mode == "unpaired":
        negatives = q @ _unit(negative_keys).T                                 # (N, M)
    else:
        negatives = torch.einsum("nd,nmd->nm", q, F.normalize(negative_keys, dim=-1))
    logits = torch.cat([positive, negatives], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=q.device))
