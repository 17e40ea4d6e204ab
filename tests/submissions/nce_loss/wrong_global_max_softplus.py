"""Bug: log(1 + exp(z)) computed as m + log(exp(-m) + exp(z - m)) with one shift m for the whole
batch (its largest logit), instead of a stable softplus for each term. Every term of a row whose
logits lie about 100 or more below the batch's largest logit underflows in float32: log(0) = -inf.

expect: fail rows_with_different_logit_ranges_float32
"""

import math

import torch


def _log1pexp(z):
    m = z.max().clamp_min(0.0).detach()                   # one shift for all terms
    return m + torch.log(torch.exp(-m) + torch.exp(z - m))


def nce_loss(pos_scores, neg_scores, log_q_pos=None, log_q_neg=None, temperature=1.0):
    if pos_scores.dim() != 1 or neg_scores.dim() != 2 or neg_scores.shape[0] != pos_scores.shape[0]:
        raise ValueError("pos_scores must be (B,) and neg_scores (B, K)")
    b, k = neg_scores.shape
    if b < 1 or k < 1:
        raise ValueError("need B >= 1 and K >= 1")
    if (log_q_pos is None) != (log_q_neg is None):
        raise ValueError("give both log_q_pos and log_q_neg, or neither")
    if log_q_pos is not None and (log_q_pos.shape != pos_scores.shape or log_q_neg.shape != neg_scores.shape):
        raise ValueError("log_q shapes must match the scores")
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    pos, neg = pos_scores / temperature, neg_scores / temperature
    if log_q_pos is not None:
        pos = pos - (log_q_pos + math.log(k))
        neg = neg - (log_q_neg + math.log(k))
    logits = torch.cat([-pos[:, None], neg], dim=1)       # (B, 1 + K): softplus of each is its term
    return _log1pexp(logits).sum(dim=1).mean()
