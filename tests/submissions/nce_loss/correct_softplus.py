"""Correct: softplus form, -log sigmoid(z) = softplus(-z) and -log(1 - sigmoid(z)) = softplus(z).

expect: pass
"""

import torch
import torch.nn.functional as F


def nce_loss(pos_scores, neg_scores, log_q_pos=None, log_q_neg=None, temperature=1.0):
    if pos_scores.ndim != 1 or neg_scores.ndim != 2 or neg_scores.shape[0] != pos_scores.shape[0]:
        raise ValueError(f"bad shapes {tuple(pos_scores.shape)} / {tuple(neg_scores.shape)}")
    if neg_scores.shape[0] == 0 or neg_scores.shape[1] == 0:
        raise ValueError("B and K must be at least 1")
    if (log_q_pos is None) ^ (log_q_neg is None):
        raise ValueError("log_q_pos and log_q_neg go together")
    if log_q_pos is not None and (log_q_pos.shape != pos_scores.shape or log_q_neg.shape != neg_scores.shape):
        raise ValueError("log_q shapes must match the scores")
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    pos = pos_scores / temperature
    neg = neg_scores / temperature
    if log_q_pos is not None:
        log_k = torch.log(torch.tensor(float(neg_scores.shape[1]), dtype=pos.dtype, device=pos.device))
        pos = pos - log_k - log_q_pos
        neg = neg - log_k - log_q_neg
    per_sample = F.softplus(-pos, beta=1.0, threshold=50.0) + F.softplus(neg, threshold=50.0).sum(dim=-1)
    return per_sample.mean()
