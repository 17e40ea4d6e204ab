"""Correct: the authors' released arithmetic (exponentials, then the clamp of N g at
N e^(-1/t), github.com/chingyaoc/DCL) computed in float64, where e^(+-100) is representable,
and cast back to the inputs' dtype. DCL as one (2N, 2N) matrix with a boolean mask.

expect: pass
"""

import torch
import torch.nn.functional as F


def debiased_info_nce(query, positive_key, negative_keys, temperature=0.5, tau_plus=0.1):
    if not isinstance(negative_keys, torch.Tensor) or query.dim() != 2 or query.shape != positive_key.shape:
        raise ValueError("query and positive_key must be (B, D) of the same shape, with negatives")
    if negative_keys.dim() != 2 or negative_keys.shape[-1] != query.shape[-1]:
        raise ValueError("negative_keys must be (M, D)")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    if not 0 <= tau_plus < 1:
        raise ValueError("tau_plus must be in [0, 1)")
    out_q = F.normalize(query.double(), dim=1)
    out_k = F.normalize(positive_key.double(), dim=1)
    out_n = F.normalize(negative_keys.double(), dim=1)
    big_n = negative_keys.shape[0]
    pos = torch.exp(torch.sum(out_q * out_k, dim=-1) / temperature)
    neg = torch.exp(torch.mm(out_q, out_n.t()) / temperature)
    ng = (-tau_plus * big_n * pos + neg.sum(dim=-1)) / (1 - tau_plus)
    ng = torch.clamp(ng, min=big_n * torch.e ** (-1 / temperature))
    return (-torch.log(pos / (pos + ng))).mean().to(query.dtype)


def decoupled_nt_xent(z1, z2, temperature=0.1):
    if z1.dim() != 2 or z1.shape != z2.shape or len(z1) < 2:
        raise ValueError("need z1, z2 of the same shape (N, D) with N >= 2")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    n = len(z1)
    out = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = out @ out.T / temperature
    index = torch.arange(2 * n, device=out.device)
    partner = (index + n) % (2 * n)
    keep = (index[:, None] != index[None, :]) & (partner[:, None] != index[None, :])
    negatives = sim.masked_fill(~keep, float("-inf"))
    return (torch.logsumexp(negatives, dim=1) - sim[index, partner]).mean()
