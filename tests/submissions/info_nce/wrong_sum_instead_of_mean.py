"""Bug: reduction="sum": the loss (and the gradient) grows with the batch size.

expect: fail matches_reference, worked_example_from_spec
"""

import torch
import torch.nn.functional as F


def info_nce(query, positive_key, negative_keys=None, temperature=0.1, negative_mode="unpaired"):
    if negative_mode not in ("unpaired", "paired"):
        raise ValueError("negative_mode must be unpaired or paired")
    if query.dim() != 2 or query.shape != positive_key.shape or temperature <= 0:
        raise ValueError("bad query, positive_key or temperature")
    if negative_keys is not None:
        n, d = query.shape
        want = (negative_keys.shape[0], d) if negative_mode == "unpaired" else (n, negative_keys.shape[1], d)
        if tuple(negative_keys.shape) != want:
            raise ValueError("negative_keys do not fit negative_mode")
    q, k = F.normalize(query, dim=-1), F.normalize(positive_key, dim=-1)
    if negative_keys is None:
        logits, target = q @ k.T, torch.arange(len(q), device=q.device)
    else:
        neg = F.normalize(negative_keys, dim=-1)
        negs = q @ neg.T if negative_mode == "unpaired" else torch.einsum("nd,nmd->nm", q, neg)
        logits = torch.cat([(q * k).sum(1, keepdim=True), negs], 1)
        target = torch.zeros(len(q), dtype=torch.long, device=q.device)
    return F.cross_entropy(logits / temperature, target, reduction="sum")
