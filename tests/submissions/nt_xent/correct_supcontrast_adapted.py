"""The SupContrast (HobbitLong) SupConLoss recipe with labels=None and every view an anchor,
rewritten: views interleaved as (N, 2, D) then unbound, the positive mask eye(N) tiled 2x2, and,
to fit the spec, rows L2-normalized, base_temperature = temperature (no t/0.07 factor),
row max taken with the anchor excluded and self masked out with -inf instead of exp()*mask.

Written blind from the spec (round 3).
expect: pass
"""

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    if z1.dim() != 2 or z2.dim() != 2:
        raise ValueError("z1 and z2 must be 2-D (N, D)")
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    n = z1.shape[0]
    paired = F.normalize(torch.stack([z1, z2], dim=1), dim=-1)   # (N, 2, D)
    rows = torch.cat(torch.unbind(paired, dim=1))                 # (2N, D): all first views, then all second
    scores = rows @ rows.T / temperature                          # (2N, 2N)
    others = ~torch.eye(2 * n, dtype=torch.bool, device=z1.device)
    scores = scores.masked_fill(~others, float("-inf"))           # the anchor is not its own candidate
    scores = scores - scores.max(dim=1, keepdim=True).values.detach()
    positives = torch.eye(n, dtype=torch.bool, device=z1.device).repeat(2, 2) & others
    # one positive per row; select it without multiplying -inf by 0
    positive_logit = scores.masked_fill(~positives, 0.0).sum(dim=1)
    return -(positive_logit - torch.logsumexp(scores, dim=1)).mean()
