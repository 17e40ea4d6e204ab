"""Ports DPR's BiEncoderNllLoss as-is: every query scores the whole context pool (all positives
followed by all queries' hard negatives, flattened) with positive index i. Violates the paired
contract: "query i's **own** M negatives in negative_keys[i]" and logits[i] = [q_i.k_i, q_i.n_i1..n_iM]:
here row i also contains the other queries' positives and negatives.

Written blind from the spec (round 3).
expect: fail worked_example_from_spec, matches_reference
"""

import torch
import torch.nn.functional as F


def info_nce(query: torch.Tensor, positive_key: torch.Tensor, negative_keys: torch.Tensor = None,
             temperature: float = 0.1, negative_mode: str = "unpaired") -> torch.Tensor:
    if negative_mode not in ("unpaired", "paired"):
        raise ValueError("negative_mode must be 'unpaired' or 'paired'")
    if query.dim() != 2 or positive_key.dim() != 2 or query.shape != positive_key.shape:
        raise ValueError("query and positive_key must both be (N, D)")
    n, d = query.shape
    if negative_keys is not None:
        if negative_mode == "unpaired" and (negative_keys.dim() != 2 or negative_keys.shape[1] != d):
            raise ValueError("unpaired negative_keys must be (M, D)")
        if negative_mode == "paired" and (negative_keys.dim() != 3 or negative_keys.shape[0] != n
                                          or negative_keys.shape[2] != d):
            raise ValueError("paired negative_keys must be (N, M, D)")
    if temperature <= 0:
        raise ValueError("temperature must be > 0")

    q = F.normalize(query, dim=-1)
    k = F.normalize(positive_key, dim=-1)
    if negative_keys is None:
        return F.cross_entropy(q @ k.t() / temperature, torch.arange(n, device=q.device))
    neg = F.normalize(negative_keys, dim=-1)
    if negative_mode == "unpaired":
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ neg.t()], dim=1) / temperature
        return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=q.device))
    # DPR: ctx pool = [positives; all hard negatives], positive of question i at index i
    ctx = torch.cat([k, neg.reshape(-1, d)], dim=0)
    scores = q @ ctx.t() / temperature
    return F.nll_loss(F.log_softmax(scores, dim=1), torch.arange(n, device=q.device))
