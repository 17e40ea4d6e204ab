"""Bug: paired mode lets negative_keys of shape (1, M, D) through and broadcasts it, so every
query silently shares one set of negatives (that is unpaired mode, in the wrong shape).

expect: fail rejects_negatives_that_do_not_fit_the_mode
"""

import torch
import torch.nn.functional as F


def info_nce(query, positive_key, negative_keys=None, temperature=0.1, negative_mode="unpaired"):
    if negative_mode not in {"paired", "unpaired"}:
        raise ValueError("bad negative_mode")
    if len(query.shape) != 2 or tuple(query.shape) != tuple(positive_key.shape):
        raise ValueError("query / positive_key shapes")
    if temperature <= 0:
        raise ValueError("temperature")
    n = query.shape[0]
    if negative_keys is None:
        sims = F.cosine_similarity(query[:, None, :], positive_key[None, :, :], dim=-1)   # (N, N)
        labels = torch.arange(n, device=query.device)
    else:
        if negative_mode == "unpaired":
            if negative_keys.dim() != 2 or negative_keys.shape[1] != query.shape[1]:
                raise ValueError("negative_keys must be (M, D)")
            negs = F.cosine_similarity(query[:, None, :], negative_keys[None, :, :], dim=-1)
        else:
            if negative_keys.dim() != 3 or negative_keys.shape[0] not in (1, n) or negative_keys.shape[2] != query.shape[1]:
                raise ValueError("negative_keys must be (N, M, D)")
            negs = F.cosine_similarity(query[:, None, :], negative_keys, dim=-1)
        pos = F.cosine_similarity(query, positive_key, dim=-1)
        sims = torch.cat([pos[:, None], negs], dim=1)
        labels = torch.zeros(n, dtype=torch.long, device=query.device)
    return F.cross_entropy(sims / temperature, labels)
