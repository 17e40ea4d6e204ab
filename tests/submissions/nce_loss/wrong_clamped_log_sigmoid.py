"""Bug: "fixes" the log(0) of log(sigmoid(z)) with a clamp at 1e-7; no inf any more, but every term
saturates at -log(1e-7) = 16.1 and its gradient is zero there, so confident mistakes stop being corrected.

expect: fail extreme_scores_float32, low_temperature_float32
"""

import math

import torch


def nce_loss(pos_scores, neg_scores, log_q_pos=None, log_q_neg=None, temperature=1.0):
    if pos_scores.dim() != 1 or neg_scores.dim() != 2 or neg_scores.shape[0] != pos_scores.shape[0]:
        raise ValueError("expected pos_scores (B,) and neg_scores (B, K)")
    if neg_scores.shape[1] < 1 or temperature <= 0 or (log_q_pos is None) != (log_q_neg is None):
        raise ValueError("bad K, temperature or log_q")
    if log_q_pos is not None and (log_q_pos.shape != pos_scores.shape or log_q_neg.shape != neg_scores.shape):
        raise ValueError("log_q_pos / log_q_neg must match the shapes of the scores")
    k = neg_scores.shape[1]
    pos, neg = pos_scores / temperature, neg_scores / temperature
    if log_q_pos is not None:
        pos = pos - log_q_pos - math.log(k)
        neg = neg - log_q_neg - math.log(k)
    eps = 1e-7
    data = torch.log(torch.sigmoid(pos).clamp_min(eps))
    noise = torch.log((1 - torch.sigmoid(neg)).clamp_min(eps)).sum(dim=1)
    return -(data + noise).mean()
