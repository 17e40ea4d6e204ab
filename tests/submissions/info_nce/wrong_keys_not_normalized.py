"""Bug: normalizes the queries but not the keys, so a key's length changes its logit.

expect: fail matches_reference, invariant_to_scaling_vectors
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
    q = F.normalize(query, dim=-1)
    if negative_keys is None:
        logits, target = q @ positive_key.T, torch.arange(len(q))
    else:
        pos = (q * positive_key).sum(1, keepdim=True)
        neg = q @ negative_keys.T if negative_mode == "unpaired" else torch.einsum("nd,nmd->nm", q, negative_keys)
        logits, target = torch.cat([pos, neg], 1), torch.zeros(len(q), dtype=torch.long)
    return F.cross_entropy(logits / temperature, target)
