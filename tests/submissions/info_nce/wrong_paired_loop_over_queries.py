"""Bug: correct values, vectorized in-batch and unpaired, but paired mode loops over the queries in
Python (one (M, D) @ (D,) product each). With a few paired negatives per query (N=2048, M=8) the
loop is many times the reference's one batched product.

expect: fail speed_vs_reference
"""

import torch
import torch.nn.functional as F


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
    neg = F.normalize(negative_keys, dim=-1)
    positive = (q * k).sum(-1, keepdim=True)
    if negative_mode == "unpaired":
        negatives = q @ neg.T
    else:
        negatives = torch.stack([neg[i] @ q[i] for i in range(n)])              # (N, M), one query at a time
    logits = torch.cat([positive, negatives], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=q.device))
