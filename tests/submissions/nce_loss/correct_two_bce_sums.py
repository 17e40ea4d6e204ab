"""Ports PyTorch-BigGraph's LogisticLoss idea (positives vs negatives as two separate
binary_cross_entropy_with_logits sums), adapted to the spec: NCE correction after the
temperature, sum over all terms then divide by B (= sum over K, mean over B).

Written blind from the spec (round 3).
expect: pass
"""

import math

import torch
import torch.nn.functional as F


def _check(pos_scores, neg_scores, log_q_pos, log_q_neg, temperature):
    if pos_scores.dim() != 1:
        raise ValueError(f"pos_scores must be 1-D, got shape {tuple(pos_scores.shape)}")
    if neg_scores.dim() != 2:
        raise ValueError(f"neg_scores must be 2-D, got shape {tuple(neg_scores.shape)}")
    b, k = neg_scores.shape
    if pos_scores.shape[0] != b:
        raise ValueError(f"batch sizes differ: {pos_scores.shape[0]} vs {b}")
    if b < 1:
        raise ValueError("need at least one observed sample (B >= 1)")
    if k < 1:
        raise ValueError("need at least one noise sample per row (K >= 1)")
    if (log_q_pos is None) != (log_q_neg is None):
        raise ValueError("give both log_q_pos and log_q_neg, or neither")
    if log_q_pos is not None:
        if tuple(log_q_pos.shape) != tuple(pos_scores.shape):
            raise ValueError(f"log_q_pos must have shape {tuple(pos_scores.shape)}")
        if tuple(log_q_neg.shape) != tuple(neg_scores.shape):
            raise ValueError(f"log_q_neg must have shape {tuple(neg_scores.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


def nce_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor, log_q_pos: torch.Tensor = None,
             log_q_neg: torch.Tensor = None, temperature: float = 1.0) -> torch.Tensor:
    _check(pos_scores, neg_scores, log_q_pos, log_q_neg, temperature)
    b, k = neg_scores.shape
    pos_logits = pos_scores / temperature
    neg_logits = neg_scores / temperature
    if log_q_pos is not None:
        log_k = math.log(k)
        pos_logits = pos_logits - (log_q_pos + log_k)
        neg_logits = neg_logits - (log_q_neg + log_k)
    pos_term = F.binary_cross_entropy_with_logits(
        pos_logits, torch.ones_like(pos_logits), reduction="sum")
    neg_term = F.binary_cross_entropy_with_logits(
        neg_logits, torch.zeros_like(neg_logits), reduction="sum")
    return (pos_term + neg_term) / b
