"""Bug: with explicit negatives, also appends the other rows' positive keys (in-batch negatives) to
each row, which the contract's "unpaired" and "paired" modes do not do.

expect: fail matches_reference, closed_form_on_orthonormal_features
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
    in_batch = q @ k.T
    if negative_keys is None:
        return F.cross_entropy(in_batch / temperature, torch.arange(len(q), device=q.device))
    neg = F.normalize(negative_keys, dim=-1)
    negs = q @ neg.T if negative_mode == "unpaired" else torch.einsum("nd,nmd->nm", q, neg)
    others = in_batch.masked_fill(torch.eye(len(q), dtype=torch.bool, device=q.device), float("-inf"))
    logits = torch.cat([in_batch.diagonal()[:, None], negs, others], 1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))
