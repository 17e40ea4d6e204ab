"""Deviates: pytorch-metric-learning's SupConLoss (version 2.9), the views flattened to one
(B*V, D) batch with one label per row. Per anchor it computes L_out (the denominator masked to
every row but the anchor, the mean of the positives' log-probabilities), but it returns 0 for a
batch that has no negative pair at all: in a batch of one class the loss of each anchor is
log(M - 1) at best, not 0. Its default reducer (AvgNonZeroReducer) also leaves out every anchor
whose loss is exactly 0, which at a low temperature includes anchors whose positives dominate
their denominator (a loss that underflows to 0 in float32). It returns 0 rather than raising
where no anchor has a positive; this file raises there itself.

expect: fail closed_form_on_orthonormal_features
requires: pytorch_metric_learning
"""

import torch
from pytorch_metric_learning.losses import SupConLoss


def supcon_loss(features, labels=None, temperature=0.1):
    if features.dim() != 3:
        raise ValueError("features must be (B, V, D)")
    b, v, d = features.shape
    if labels is not None and labels.shape != (b,):
        raise ValueError("labels must be (B,)")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    ids = (labels if labels is not None else torch.arange(b, device=features.device)).repeat_interleave(v)
    if len(torch.unique(ids)) == len(ids):
        raise ValueError("no anchor has a positive")
    return SupConLoss(temperature=temperature)(features.reshape(b * v, d), ids)
