"""Correct: turns every mode into the paired one (in-batch: each row's negatives are the other keys,
unpaired: the shared set expanded to every row), then log_softmax and column 0.

expect: pass
"""

import torch
import torch.nn.functional as F


def info_nce(query, positive_key, negative_keys=None, temperature=0.1, negative_mode="unpaired"):
    if negative_mode != "unpaired" and negative_mode != "paired":
        raise ValueError("negative_mode must be 'unpaired' or 'paired'")
    if query.dim() != 2 or positive_key.dim() != 2 or query.shape != positive_key.shape:
        raise ValueError("query and positive_key need the same (N, D) shape")
    n, d = query.shape
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    q = F.normalize(query, dim=1)
    k = F.normalize(positive_key, dim=1)
    if negative_keys is None:
        # row i: the keys of the other rows, in order
        others = ~torch.eye(n, dtype=torch.bool, device=q.device)
        negs = k.unsqueeze(0).expand(n, n, d)[others].view(n, n - 1, d)
    elif negative_mode == "unpaired":
        if negative_keys.dim() != 2 or negative_keys.shape[1] != d:
            raise ValueError("unpaired negative_keys must be (M, D)")
        negs = F.normalize(negative_keys, dim=-1).unsqueeze(0).expand(n, -1, -1)
    else:
        if negative_keys.dim() != 3 or negative_keys.shape[0] != n or negative_keys.shape[2] != d:
            raise ValueError("paired negative_keys must be (N, M, D)")
        negs = F.normalize(negative_keys, dim=-1)
    candidates = torch.cat([k.unsqueeze(1), negs], dim=1)              # (N, 1 + M, D)
    logits = torch.bmm(candidates, q.unsqueeze(2)).squeeze(2) / temperature
    return -F.log_softmax(logits, dim=1)[:, 0].mean()
