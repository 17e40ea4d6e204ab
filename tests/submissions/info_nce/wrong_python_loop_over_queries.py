"""Bug: correct values, but a Python loop over the queries (one matrix-vector product each against the
whole queue). With a large batch (N=1024, M=4096) the loop is 7-9x the reference; against a long
queue (N=256, M=16384) only 3-5x, too close to the 3x limit for the speed check to rely on alone.

expect: fail speed_vs_reference
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
    neg = None if negative_keys is None else F.normalize(negative_keys, dim=-1)
    losses = []
    for i in range(len(q)):
        if neg is None:
            logits, target = k @ q[i], i
        else:
            own = neg if negative_mode == "unpaired" else neg[i]
            logits, target = torch.cat([(q[i] * k[i]).sum().view(1), own @ q[i]]), 0
        logits = logits / temperature
        losses.append(torch.logsumexp(logits, 0) - logits[target])
    return torch.stack(losses).mean()
