"""Reference debiased and decoupled contrastive losses: two fixes to InfoNCE's negatives.

debiased_info_nce: Chuang, Robinson, Lin, Torralba, Jegelka. "Debiased Contrastive Learning",
NeurIPS 2020, the debiased objective L_Debiased^{N,M} with M = 1 positive sample and its
estimator g clamped at its theoretical minimum e^{-1/t}, as the authors' released code
(github.com/chingyaoc/DCL, main.py) computes N g. Here the N negatives are a set of M keys
shared by every query (info_nce's "unpaired" mode), so the formula's N is M.

decoupled_nt_xent: Yeh, Hong, Hsu, Liu, Chen, LeCun. "Decoupled Contrastive Learning",
ECCV 2022, eq. (6) without weighting: NT-Xent (SimCLR) with the positive pair removed from
the denominator, averaged over the 2N anchors as lightly's DCLLoss does.
"""

import math

import torch
import torch.nn.functional as F


def _shape(t):
    return tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__


def _check_temperature(temperature):
    if not temperature > 0:                       # also False for NaN
        raise ValueError(f"temperature must be > 0, got {temperature}")


def _validate_debiased(query, positive_key, negative_keys, temperature, tau_plus):
    if not all(isinstance(t, torch.Tensor) for t in (query, positive_key, negative_keys)):
        raise ValueError("query, positive_key and negative_keys must be tensors")
    if query.dim() != 2 or query.shape != positive_key.shape:
        raise ValueError(f"query and positive_key must be (B, D) of the same shape, got {_shape(query)} "
                         f"and {_shape(positive_key)}")
    if query.shape[0] < 1 or query.shape[1] < 1:
        raise ValueError(f"need B >= 1 and D >= 1, got query of shape {_shape(query)}")
    if negative_keys.dim() != 2 or negative_keys.shape[0] < 1 or negative_keys.shape[1] != query.shape[1]:
        raise ValueError(f"negative_keys must be (M, {query.shape[1]}) with M >= 1, got {_shape(negative_keys)}")
    _check_temperature(temperature)
    if not 0 <= tau_plus < 1:                     # also False for NaN
        raise ValueError(f"tau_plus must be in [0, 1), got {tau_plus}")


def debiased_info_nce(query: torch.Tensor, positive_key: torch.Tensor, negative_keys: torch.Tensor,
                      temperature: float = 0.5, tau_plus: float = 0.1) -> torch.Tensor:
    """Mean over the B queries of -log(e^p / (e^p + Ng)), Ng = max((sum_j e^{s_j} - tau+ M e^p) / (1 - tau+), M e^{-1/t})."""
    _validate_debiased(query, positive_key, negative_keys, temperature, tau_plus)
    m = negative_keys.shape[0]
    q = F.normalize(query, dim=1) / temperature                      # (B, D) unit rows / t
    pos = (q * F.normalize(positive_key, dim=1)).sum(dim=1)          # (B,) p_i
    neg = q @ F.normalize(negative_keys, dim=1).T                    # (B, M) s_ij
    # Every exponential is taken relative to the row's largest logit, so nothing overflows at
    # t = 0.01; the loss does not depend on the shift, hence no gradient through it.
    shift = torch.maximum(pos, neg.amax(dim=1)).detach()             # (B,)
    pos_exp = torch.exp(pos - shift)                                 # (B,) e^{p - c}
    neg_sum = torch.exp(neg - shift[:, None]).sum(dim=1)             # (B,) sum_j e^{s_j - c}
    ng = (neg_sum - tau_plus * m * pos_exp) / (1 - tau_plus)         # (B,) N g, unclamped
    floor = m * torch.exp(-1.0 / temperature - shift)                # (B,) M e^{-1/t - c}
    ng = torch.maximum(ng, floor)
    return (torch.log(pos_exp + ng) + shift - pos).mean()            # 0-dim


def _validate_decoupled(z1, z2, temperature):
    if not (isinstance(z1, torch.Tensor) and isinstance(z2, torch.Tensor)):
        raise ValueError("z1 and z2 must be tensors")
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must be (N, D) of the same shape, got {_shape(z1)} and {_shape(z2)}")
    if z1.shape[0] < 2 or z1.shape[1] < 1:
        raise ValueError(f"need N >= 2 (with one pair there is no negative) and D >= 1, got {_shape(z1)}")
    _check_temperature(temperature)


def decoupled_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Mean over the 2N anchors of -s_{i,p(i)} + log sum_{k not in {i, p(i)}} e^{s_ik}."""
    _validate_decoupled(z1, z2, temperature)
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)                 # (2N, D) unit rows
    logits = z @ z.T / temperature                                     # (2N, 2N)
    rows = torch.arange(2 * n, device=z.device)                        # (2N,)
    partner = rows.roll(n)                                             # (2N,) i -> i + N mod 2N
    positive = logits[rows, partner]                                   # (2N,) before masking
    excluded = torch.zeros_like(logits, dtype=torch.bool)              # (2N, 2N)
    excluded[rows, rows] = True
    excluded[rows, partner] = True
    negatives = logits.masked_fill(excluded, -math.inf)                # self and partner removed
    return (torch.logsumexp(negatives, dim=1) - positive).mean()       # 0-dim
