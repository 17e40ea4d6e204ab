"""Reference NCE loss: noise-contrastive estimation as binary classification of data against noise.

Gutmann, Hyvarinen. "Noise-contrastive estimation: A new estimation principle for
unnormalized statistical models", AISTATS 2010 (the objective, with a noise-to-data
ratio K); Mnih, Teh. "A fast and simple algorithm for training neural probabilistic
language models", ICML 2012 (the logit s(x) - log(K q(x)) and K noise samples per word).
Without the noise log-probabilities it is the negative-sampling loss of word2vec
(Mikolov et al., "Distributed Representations of Words and Phrases and their
Compositionality", NeurIPS 2013).
"""

import math

import torch
import torch.nn.functional as F


def _shape(t):
    return tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__


def _validate(pos_scores, neg_scores, log_q_pos, log_q_neg, temperature):
    if not (isinstance(pos_scores, torch.Tensor) and isinstance(neg_scores, torch.Tensor)):
        raise ValueError("pos_scores and neg_scores must be tensors")
    if pos_scores.dim() != 1 or neg_scores.dim() != 2:
        raise ValueError(f"expected pos_scores of shape (B,) and neg_scores of shape (B, K), "
                         f"got {_shape(pos_scores)} and {_shape(neg_scores)}")
    b, k = neg_scores.shape
    if pos_scores.shape[0] != b:
        raise ValueError(f"pos_scores has {pos_scores.shape[0]} rows but neg_scores has {b}")
    if b < 1:
        raise ValueError("need at least one observed sample (B >= 1)")
    if k < 1:
        raise ValueError(f"need at least one noise sample per observed one (K >= 1), got K = {k}")
    if (log_q_pos is None) != (log_q_neg is None):
        raise ValueError("give both log_q_pos and log_q_neg, or neither")
    if log_q_pos is not None:
        if not (isinstance(log_q_pos, torch.Tensor) and isinstance(log_q_neg, torch.Tensor)):
            raise ValueError("log_q_pos and log_q_neg must be tensors")
        if log_q_pos.shape != pos_scores.shape or log_q_neg.shape != neg_scores.shape:
            raise ValueError(f"log_q_pos and log_q_neg must have the shapes of pos_scores {(b,)} and "
                             f"neg_scores {(b, k)}, got {_shape(log_q_pos)} and {_shape(log_q_neg)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


def nce_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor, log_q_pos: torch.Tensor = None,
             log_q_neg: torch.Tensor = None, temperature: float = 1.0) -> torch.Tensor:
    """Mean over the B observed samples of -log sigma(logit(pos)) - sum_k log(1 - sigma(logit(neg_k)))."""
    _validate(pos_scores, neg_scores, log_q_pos, log_q_neg, temperature)
    k = neg_scores.shape[1]
    pos_logits = pos_scores / temperature                          # (B,)
    neg_logits = neg_scores / temperature                          # (B, K)
    if log_q_pos is not None:
        log_k = math.log(k)
        pos_logits = pos_logits - (log_q_pos + log_k)              # s/t - log(K q(x))
        neg_logits = neg_logits - (log_q_neg + log_k)
    # logsigmoid never forms sigma(z) itself, so it cannot round to log(0); log(1 - sigma(z)) = logsigmoid(-z)
    data_term = -F.logsigmoid(pos_logits)                          # (B,)
    noise_term = -F.logsigmoid(-neg_logits).sum(dim=1)             # (B,) summed over the K noise samples
    return (data_term + noise_term).mean()                         # 0-dim
