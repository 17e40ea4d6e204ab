"""Bug: detaches negative_keys (a habit from MoCo's queue); in paired mode the negatives are usually
other samples' embeddings and need their gradient.

expect: fail gradients_match_reference, gradcheck_float64, output_keeps_autograd_graph
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
        return F.cross_entropy(q @ k.T / temperature, torch.arange(len(q), device=q.device))
    neg = F.normalize(negative_keys.detach(), dim=-1)
    negs = q @ neg.T if negative_mode == "unpaired" else torch.einsum("nd,nmd->nm", q, neg)
    logits = torch.cat([(q * k).sum(1, keepdim=True), negs], 1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))
