"""Bug: leaves the positive out of the denominator (only the 2N-2 negatives are summed), so the
"probability" is not a softmax and N=1 gives -inf/nan.

expect: fail matches_reference, single_pair_has_zero_loss
"""

import torch
import torch.nn.functional as F


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape or temperature <= 0:
        raise ValueError("bad input")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    partner = torch.arange(2 * n).roll(n)
    positive = logits[torch.arange(2 * n), partner]
    mask = torch.eye(2 * n, dtype=torch.bool)
    mask[torch.arange(2 * n), partner] = True
    negatives = logits.masked_fill(mask, float("-inf"))
    return (torch.logsumexp(negatives, dim=1) - positive).mean()
