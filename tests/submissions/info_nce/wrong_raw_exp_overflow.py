"""Bug: writes the softmax by hand with exp() and no max-subtraction; at temperature 0.01 the logits
reach 100 and exp(100) overflows float32.

expect: fail low_temperature_float32
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
        e = torch.exp(q @ k.T / temperature)
        return -torch.log(e.diagonal() / e.sum(1)).mean()
    neg = F.normalize(negative_keys, dim=-1)
    negs = q @ neg.T if negative_mode == "unpaired" else torch.einsum("nd,nmd->nm", q, neg)
    e_pos = torch.exp((q * k).sum(1) / temperature)
    e_neg = torch.exp(negs / temperature).sum(1)
    return -torch.log(e_pos / (e_pos + e_neg)).mean()
