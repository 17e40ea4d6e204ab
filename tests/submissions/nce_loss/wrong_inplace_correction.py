"""Bug: applies the temperature and the correction in place (div_, sub_), changing the caller's tensors.

expect: fail inputs_not_modified
"""

import math

import torch
import torch.nn.functional as F


def nce_loss(pos_scores, neg_scores, log_q_pos=None, log_q_neg=None, temperature=1.0):
    if pos_scores.dim() != 1 or neg_scores.dim() != 2 or neg_scores.shape[0] != pos_scores.shape[0]:
        raise ValueError("expected pos_scores (B,) and neg_scores (B, K)")
    if neg_scores.shape[1] < 1 or temperature <= 0 or (log_q_pos is None) != (log_q_neg is None):
        raise ValueError("bad K, temperature or log_q")
    if log_q_pos is not None and (log_q_pos.shape != pos_scores.shape or log_q_neg.shape != neg_scores.shape):
        raise ValueError("log_q_pos / log_q_neg must match the shapes of the scores")
    k = neg_scores.shape[1]
    with torch.no_grad():
        pos_scores.div_(temperature)
        neg_scores.div_(temperature)
        if log_q_pos is not None:
            log_q_pos.add_(math.log(k))
            log_q_neg.add_(math.log(k))
    pos, neg = pos_scores, neg_scores
    if log_q_pos is not None:
        pos, neg = pos - log_q_pos, neg - log_q_neg
    return (-F.logsigmoid(pos) - F.logsigmoid(-neg).sum(dim=1)).mean()
