"""Exercise nce_loss: implement the noise-contrastive estimation (NCE) loss.

Read spec.md in this folder, then run `grade nce_loss`.
"""

import math  # noqa: F401  (you will probably want it)

import torch
import torch.nn.functional as F  # noqa: F401  (you will probably want it)


def nce_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor, log_q_pos: torch.Tensor = None,
             log_q_neg: torch.Tensor = None, temperature: float = 1.0) -> torch.Tensor:
    """pos_scores: (B,) scores of observed samples; neg_scores: (B, K) scores of their K noise samples.

    log_q_pos (B,), log_q_neg (B, K): log-probabilities of those samples under the noise
    distribution, both or neither. Returns the 0-dim mean loss.
    """
    # TODO: validate the inputs, build the logits s / temperature - log(K q) (or s / temperature
    # without log_q), then average over the batch the binary cross-entropy that labels the observed
    # sample 1 and each of its K noise samples 0 (summed over the K noise samples).
    raise NotImplementedError
