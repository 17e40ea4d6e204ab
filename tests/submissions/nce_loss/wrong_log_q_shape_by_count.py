"""Bug: checks only that log_q_pos and log_q_neg hold as many values as the scores, then
reshapes: a (B*K,) or (B, 1)-shaped log_q_neg with the wrong layout passes silently.

expect: fail rejects_mismatched_shapes
"""

import torch
import torch.nn.functional as F


def nce_loss(pos_scores, neg_scores, log_q_pos=None, log_q_neg=None, temperature=1.0):
    if pos_scores.ndim != 1 or neg_scores.ndim != 2 or neg_scores.shape[0] != pos_scores.shape[0]:
        raise ValueError(f"bad shapes {tuple(pos_scores.shape)} / {tuple(neg_scores.shape)}")
    if neg_scores.shape[1] == 0:
        raise ValueError("K must be at least 1")
    if (log_q_pos is None) ^ (log_q_neg is None):
        raise ValueError("log_q_pos and log_q_neg go together")
    if log_q_pos is not None and (log_q_pos.numel() != pos_scores.numel() or log_q_neg.numel() != neg_scores.numel()):
        raise ValueError("log_q shapes must match the scores")
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    pos = pos_scores / temperature
    neg = neg_scores / temperature
    if log_q_pos is not None:
        log_k = torch.log(torch.tensor(float(neg_scores.shape[1]), dtype=pos.dtype, device=pos.device))
        pos = pos - log_k - log_q_pos.reshape(pos.shape)
        neg = neg - log_k - log_q_neg.reshape(neg.shape)
    per_sample = F.softplus(-pos, beta=1.0, threshold=50.0) + F.softplus(neg, threshold=50.0).sum(dim=-1)
    return per_sample.mean()
