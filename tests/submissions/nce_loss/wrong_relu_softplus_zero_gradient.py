"""Wrong: a hand-written stable softplus, relu(x) + log(1 + exp(-|x|)), whose gradient under
autograd is 0 at a logit of exactly 0 (relu and |x| both have slope 0 there) instead of
sigmoid(0) = 0.5.

The values are exact everywhere. But word2vec starts its context vectors at zero, so every
score of the first step is exactly 0: with a zero gradient there, neither the context nor the
word vectors ever move. (The clamp_min(0) form gives 1 there, twice too much but not stuck;
the grader accepts that with a note.)

expect: fail gradients_at_zero_logits
"""

import math

import torch
import torch.nn.functional as F


def _softplus(x):
    """log(1 + exp(x)), stable for large |x|."""
    return F.relu(x) + torch.log1p(torch.exp(-torch.abs(x)))


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
    pos, neg = pos_scores / temperature, neg_scores / temperature              # (B,), (B, K)
    if log_q_pos is not None:
        pos = pos - (log_q_pos + math.log(k))
        neg = neg - (log_q_neg + math.log(k))
    data_term = _softplus(-pos)                                               # (B,)
    noise_term = _softplus(neg).sum(dim=1)                                    # (B,)
    return (data_term + noise_term).mean()
