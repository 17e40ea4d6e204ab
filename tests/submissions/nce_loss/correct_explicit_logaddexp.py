"""Correct: writes the stable log(1 + exp(x)) itself as max(x, 0) + log1p(exp(-|x|)), and validates first.

expect: pass
"""

import math

import torch


def _log1pexp(x):
    return x.clamp_min(0) + torch.log1p(torch.exp(-x.abs()))


def nce_loss(pos_scores, neg_scores, log_q_pos=None, log_q_neg=None, temperature=1.0):
    if len(pos_scores.shape) != 1 or len(neg_scores.shape) != 2:
        raise ValueError("expected (B,) and (B, K)")
    if neg_scores.shape[0] != pos_scores.shape[0]:
        raise ValueError("batch sizes differ")
    num_noise = neg_scores.shape[1]
    if num_noise < 1 or neg_scores.shape[0] < 1:
        raise ValueError("B < 1 or K < 1")
    given = [t is not None for t in (log_q_pos, log_q_neg)]
    if any(given) and not all(given):
        raise ValueError("only one of log_q_pos / log_q_neg given")
    if all(given) and (tuple(log_q_pos.shape) != tuple(pos_scores.shape)
                       or tuple(log_q_neg.shape) != tuple(neg_scores.shape)):
        raise ValueError("log_q shape mismatch")
    if temperature <= 0:
        raise ValueError("temperature <= 0")
    logit_pos = pos_scores / temperature
    logit_neg = neg_scores / temperature
    if all(given):
        logit_pos = logit_pos - (math.log(num_noise) + log_q_pos)
        logit_neg = logit_neg - (math.log(num_noise) + log_q_neg)
    data = _log1pexp(-logit_pos)              # -log sigmoid(logit)
    noise = _log1pexp(logit_neg).sum(1)       # -log(1 - sigmoid(logit)), summed over the K noise samples
    return torch.mean(data + noise)
