"""Deviates: pytorch-metric-learning (version 2.9) with its defaults, TripletMarginLoss(margin)
for batch_all and BatchHardMiner() + TripletMarginLoss(margin) for batch_hard.

Three defaults differ from the contract (correct_pytorch_metric_learning.py fixes all three):
its LpDistance() L2-normalizes the embeddings before measuring them, and measures them with
torch.cdist's default mode (a matrix product, inexact at identical rows); and with a miner
the default AvgNonZeroReducer averages only the anchors whose hinge is positive, where
batch_hard averages every anchor that has a positive and a negative.

expect: fail batch_all_matches_reference, batch_hard_matches_reference, invariant_to_translation
requires: pytorch_metric_learning
"""

import torch
from pytorch_metric_learning.losses import TripletMarginLoss
from pytorch_metric_learning.miners import BatchHardMiner


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    if mining not in ("batch_all", "batch_hard"):
        raise ValueError(f"unknown mining {mining!r}")
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if embeddings.dim() != 2 or labels.dim() != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError("expected embeddings (B, D) and labels (B,)")
    loss = TripletMarginLoss(margin=margin)
    if mining == "batch_all":
        return loss(embeddings, labels)
    return loss(embeddings, labels, BatchHardMiner()(embeddings, labels))


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")
    d = torch.linalg.vector_norm(x1 - x2, dim=1)
    return torch.where(same, d ** 2, (margin - d).clamp(min=0) ** 2).mean() / 2
