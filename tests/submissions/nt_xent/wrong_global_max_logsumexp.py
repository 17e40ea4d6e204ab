"""Bug: the log-sum-exp over each anchor's 2N - 1 candidates is shifted by the largest logit of the
whole (2N, 2N) matrix, not by the anchor's own maximum. At temperature 0.01 in float32 an anchor
whose similarities all lie about 100 or more below the batch's largest one underflows: every
exp() is 0, log(0) = -inf, and the gradients are nan. Random batches rarely contain such a row.

expect: fail rows_with_different_logit_ranges_float32
"""

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must be (N, D) of one shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)                                  # (2N, D)
    logits = z @ z.T / temperature                                               # (2N, 2N)
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    peak = logits.max().detach()                                                 # should be per row
    log_denominator = peak + torch.log(torch.exp(logits - peak).sum(dim=1))      # (2N,)
    partner = torch.arange(2 * n, device=z.device).roll(n)
    positive = logits[torch.arange(2 * n, device=z.device), partner]             # (2N,)
    return (log_denominator - positive).mean()
