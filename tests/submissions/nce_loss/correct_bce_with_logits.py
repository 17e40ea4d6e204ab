"""Correct: one (B, 1 + K) logit matrix, labels [1, 0, ..., 0], binary_cross_entropy_with_logits summed per row.

expect: pass
"""

import math

import torch
import torch.nn.functional as F


def nce_loss(pos_scores, neg_scores, log_q_pos=None, log_q_neg=None, temperature=1.0):
    if pos_scores.dim() != 1 or neg_scores.dim() != 2:
        raise ValueError("pos_scores must be (B,) and neg_scores (B, K)")
    b, k = neg_scores.shape
    if pos_scores.shape[0] != b or b < 1 or k < 1:
        raise ValueError("need matching B >= 1 and K >= 1")
    if (log_q_pos is None) != (log_q_neg is None):
        raise ValueError("pass both log_q tensors or none")
    if log_q_pos is not None and (log_q_pos.shape != (b,) or log_q_neg.shape != (b, k)):
        raise ValueError("log_q shapes do not match the scores")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    scores = torch.cat([pos_scores[:, None], neg_scores], dim=1) / temperature     # (B, 1 + K)
    if log_q_pos is not None:
        log_q = torch.cat([log_q_pos[:, None], log_q_neg], dim=1)
        scores = scores - (log_q + math.log(k))
    labels = torch.zeros_like(scores)
    labels[:, 0] = 1.0
    per_entry = F.binary_cross_entropy_with_logits(scores, labels, reduction="none")
    return per_entry.sum(dim=1).mean()
