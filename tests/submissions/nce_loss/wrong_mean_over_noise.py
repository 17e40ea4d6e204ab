"""Bug: averages the noise terms over K instead of summing them, which weighs all K noise samples
together like one observed sample (the objective is then not NCE's, and its optimum moves).

expect: fail matches_reference, zero_logits_give_log_two_per_term, recovers_log_probabilities
"""

import math

import torch.nn.functional as F


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
    return (-F.logsigmoid(pos) - F.logsigmoid(-neg).mean(dim=1)).mean()
