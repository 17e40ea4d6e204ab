"""Bug: computes the loss in NumPy (np.logaddexp is stable) and wraps the number in a new tensor,
which cuts the autograd graph: no gradient reaches the scores.

expect: fail output_keeps_autograd_graph, gradients_match_reference, recovers_log_probabilities
"""

import math

import numpy as np
import torch


def nce_loss(pos_scores, neg_scores, log_q_pos=None, log_q_neg=None, temperature=1.0):
    if pos_scores.dim() != 1 or neg_scores.dim() != 2 or neg_scores.shape[0] != pos_scores.shape[0]:
        raise ValueError("expected pos_scores (B,) and neg_scores (B, K)")
    if neg_scores.shape[1] < 1 or temperature <= 0 or (log_q_pos is None) != (log_q_neg is None):
        raise ValueError("bad K, temperature or log_q")
    if log_q_pos is not None and (log_q_pos.shape != pos_scores.shape or log_q_neg.shape != neg_scores.shape):
        raise ValueError("log_q_pos / log_q_neg must match the shapes of the scores")
    k = neg_scores.shape[1]
    pos = pos_scores.detach().cpu().double().numpy() / temperature
    neg = neg_scores.detach().cpu().double().numpy() / temperature
    if log_q_pos is not None:
        pos = pos - log_q_pos.detach().cpu().double().numpy() - math.log(k)
        neg = neg - log_q_neg.detach().cpu().double().numpy() - math.log(k)
    value = np.mean(np.logaddexp(0.0, -pos) + np.logaddexp(0.0, neg).sum(axis=1))
    return torch.tensor(value, dtype=pos_scores.dtype, device=pos_scores.device)
