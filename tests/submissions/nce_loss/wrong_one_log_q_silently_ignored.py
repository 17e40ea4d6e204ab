"""Original (a candidate who treats log_q as "use the correction only if fully available").
Violates: "Raises ValueError when ... only one of the two log_q is given": here a lone
log_q_pos or log_q_neg is silently ignored and negative sampling is computed instead.

Written blind from the spec (round 3).
expect: fail rejects_only_one_log_q
"""

import math

import torch
import torch.nn.functional as F


def nce_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor, log_q_pos: torch.Tensor = None,
             log_q_neg: torch.Tensor = None, temperature: float = 1.0) -> torch.Tensor:
    if pos_scores.dim() != 1 or neg_scores.dim() != 2:
        raise ValueError("pos_scores must be (B,) and neg_scores (B, K)")
    B, K = neg_scores.shape
    if pos_scores.shape[0] != B or B < 1 or K < 1:
        raise ValueError("bad batch size or K")
    if log_q_pos is not None and log_q_pos.shape != pos_scores.shape:
        raise ValueError("log_q_pos shape")
    if log_q_neg is not None and log_q_neg.shape != neg_scores.shape:
        raise ValueError("log_q_neg shape")
    if temperature <= 0:
        raise ValueError("temperature must be > 0")

    pl = pos_scores / temperature
    nl = neg_scores / temperature
    if log_q_pos is not None and log_q_neg is not None:
        pl = pl - log_q_pos - math.log(K)
        nl = nl - log_q_neg - math.log(K)
    return (F.softplus(-pl) + F.softplus(nl).sum(1)).mean()
