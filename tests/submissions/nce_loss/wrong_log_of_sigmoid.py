"""Bug: takes log(sigmoid(z)) and log(1 - sigmoid(z)) literally; sigmoid rounds to 0 or 1 in float32
for large logits, and the log of 0 is -inf (the loss becomes inf, the gradients nan).

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
    data = torch.log(torch.sigmoid(pos))
    noise = torch.log(1 - torch.sigmoid(neg)).sum(dim=1)
    return -(data + noise).mean()
