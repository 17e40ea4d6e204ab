"""Bug: no input validation: a (B, 1) pos_scores broadcasts silently against (B, K), and a lone
log_q_pos is ignored instead of raising.

expect: fail rejects_mismatched_shapes, rejects_only_one_log_q
"""

import math

import torch.nn.functional as F


def nce_loss(pos_scores, neg_scores, log_q_pos=None, log_q_neg=None, temperature=1.0):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    k = neg_scores.shape[-1]
    pos, neg = pos_scores / temperature, neg_scores / temperature
    if log_q_pos is not None and log_q_neg is not None:
        pos = pos - log_q_pos - math.log(k)
        neg = neg - log_q_neg - math.log(k)
    return (-F.logsigmoid(pos) - F.logsigmoid(-neg).sum(dim=-1)).mean()
