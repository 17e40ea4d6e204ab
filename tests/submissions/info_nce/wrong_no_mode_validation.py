"""Bug: `if negative_mode == "paired": ... else: unpaired` with no validation: an unknown mode is
silently treated as unpaired and badly shaped negatives are not reported.

expect: fail rejects_unknown_mode, rejects_negatives_that_do_not_fit_the_mode
"""

import torch
import torch.nn.functional as F


def info_nce(query, positive_key, negative_keys=None, temperature=0.1, negative_mode="unpaired"):
    if query.shape != positive_key.shape or query.dim() != 2:
        raise ValueError("query and positive_key must be (N, D)")
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    q, k = F.normalize(query, dim=-1), F.normalize(positive_key, dim=-1)
    if negative_keys is None:
        return F.cross_entropy(q @ k.T / temperature, torch.arange(len(q), device=q.device))
    neg = F.normalize(negative_keys, dim=-1)
    if negative_mode == "paired":
        negs = (q.unsqueeze(1) * neg).sum(-1)
    else:
        negs = q @ neg.transpose(-2, -1)
        negs = negs.reshape(len(q), -1)
    logits = torch.cat([(q * k).sum(1, keepdim=True), negs], 1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))
