"""Bug: normalizes a shared negative queue row by row in a Python loop, far too slow at the
spec's size, and hides the loop from a timer: the normalized queue is cached under the
queue tensor's identity (data pointer, version, shape). A speed check that sent one queue
for every repetition timed only the cache hits; each repetition must bring a new queue.

expect: fail speed_vs_reference
"""

import math

import torch
import torch.nn.functional as F

_normalized = {}


def _unit_rows(keys):
    if keys.requires_grad:                       # a queue needing gradients is not cached
        return torch.stack([row / row.norm().clamp_min(1e-12) for row in keys])
    key = (keys.data_ptr(), keys._version, tuple(keys.shape))
    if key not in _normalized:
        _normalized.clear()
        rows = []
        for row in keys.tolist():                # one row at a time, element by element in Python
            length = max(math.sqrt(sum(x * x for x in row)), 1e-12)
            rows.append([x / length for x in row])
        _normalized[key] = torch.tensor(rows, dtype=keys.dtype, device=keys.device)
    return _normalized[key]


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
        negatives = q @ _unit_rows(negative_keys).T                            # (N, M)
    else:
        negatives = torch.einsum("nd,nmd->nm", q, F.normalize(negative_keys, dim=-1))
    logits = torch.cat([positive, negatives], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=q.device))
