"""Bug: the log-sum-exp is shifted by the largest logit of the whole batch, not by each row's own
maximum. At temperature 0.01 in float32 a row whose logits all lie more than about 100 below the
batch's largest one underflows: exp() gives 0 for every term, log(0) = -inf, and the gradients are nan.

expect: fail rows_with_different_logit_ranges_float32
"""

import torch
import torch.nn.functional as F


def info_nce(query, positive_key, negative_keys=None, temperature=0.1, negative_mode="unpaired"):
    if negative_mode not in ("unpaired", "paired"):
        raise ValueError(f"negative_mode must be 'unpaired' or 'paired', got {negative_mode!r}")
    if query.dim() != 2 or query.shape != positive_key.shape:
        raise ValueError("query and positive_key must both be (N, D)")
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    n, d = query.shape
    q, k = F.normalize(query, dim=-1), F.normalize(positive_key, dim=-1)
    if negative_keys is None:
        logits = q @ k.T / temperature                                   # (N, N), targets on the diagonal
        positive = logits.diagonal()
    else:
        if negative_mode == "unpaired" and (negative_keys.dim() != 2 or negative_keys.shape[1] != d):
            raise ValueError("unpaired negative_keys must be (M, D)")
        if negative_mode == "paired" and (negative_keys.dim() != 3 or negative_keys.shape[0] != n
                                          or negative_keys.shape[2] != d):
            raise ValueError("paired negative_keys must be (N, M, D)")
        neg = F.normalize(negative_keys, dim=-1)
        positive = (q * k).sum(-1) / temperature                         # (N,)
        negs = q @ neg.T if negative_mode == "unpaired" else torch.einsum("nd,nmd->nm", q, neg)
        logits = torch.cat([positive[:, None], negs / temperature], dim=1)   # (N, 1 + M)
    peak = logits.max().detach()                                         # should be per row: max(dim=1)
    log_denominator = peak + torch.log(torch.exp(logits - peak).sum(dim=1))
    return (log_denominator - positive).mean()
