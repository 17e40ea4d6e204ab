"""Bug: leaves the positive out of the denominator: -s_pos + log sum_j exp(s_neg_j).

expect: fail matches_reference, closed_form_on_orthonormal_features, worked_example_from_spec
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
    pos = (q * k).sum(1) / temperature
    if negative_keys is None:
        sims = q @ k.T / temperature
        eye = torch.eye(len(q), dtype=torch.bool, device=q.device)
        negs = sims.masked_fill(eye, float("-inf"))
    else:
        neg = F.normalize(negative_keys, dim=-1)
        negs = (q @ neg.T if negative_mode == "unpaired" else torch.einsum("nd,nmd->nm", q, neg)) / temperature
    return (torch.logsumexp(negs, dim=1) - pos).mean()
