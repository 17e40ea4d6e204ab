"""Bug: one binary_cross_entropy_with_logits with the default reduction="mean" averages over all
B * (1 + K) entries, i.e. divides the per-sample loss by 1 + K.

expect: fail matches_reference, zero_logits_give_log_two_per_term, worked_example_from_spec
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
    logits = torch.cat([pos_scores[:, None], neg_scores], dim=1) / temperature
    if log_q_pos is not None:
        logits = logits - torch.cat([log_q_pos[:, None], log_q_neg], dim=1) - math.log(k)
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1
    return F.binary_cross_entropy_with_logits(logits, labels)
