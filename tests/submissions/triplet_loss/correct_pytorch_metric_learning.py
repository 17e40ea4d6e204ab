"""Correct: pytorch-metric-learning (version 2.9), configured to compute exactly the contract.

- TripletMarginLoss enumerates every valid triplet when no miner is given, and its default
  reducer, AvgNonZeroReducer, averages the losses that are > 0: batch_all as specified.
- batch_hard: BatchHardMiner picks each anchor's farthest positive and nearest negative and
  keeps the anchors that have both; the loss must then use MeanReducer (the default
  AvgNonZeroReducer would leave out the anchors whose hinge is 0).
- Its default distance, LpDistance(), L2-normalizes the embeddings first and measures them
  with torch.cdist's default mode, a matrix product that is not exact at identical rows. A
  subclass keeps the rows as they are and uses cdist's exact mode; the miner needs it too.
- Its ContrastiveLoss is not Hadsell et al.'s loss (unsquared hinges, positive and negative
  pairs averaged separately over their non-zero terms): contrastive_pair_loss is plain torch.

expect: pass
requires: pytorch_metric_learning
"""

import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.losses import TripletMarginLoss
from pytorch_metric_learning.miners import BatchHardMiner
from pytorch_metric_learning.reducers import MeanReducer


class ExactEuclidean(LpDistance):
    def __init__(self):
        super().__init__(normalize_embeddings=False, p=2, power=1)

    def compute_mat(self, query_emb, ref_emb):
        ref_emb = query_emb if ref_emb is None else ref_emb
        return torch.cdist(query_emb, ref_emb, compute_mode="donot_use_mm_for_euclid_dist")


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    if mining not in ("batch_all", "batch_hard"):
        raise ValueError(f"unknown mining {mining!r}")
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if embeddings.dim() != 2 or labels.dim() != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError("expected embeddings (B, D) and labels (B,)")
    if mining == "batch_all":
        return TripletMarginLoss(margin=margin, distance=ExactEuclidean())(embeddings, labels)
    triplets = BatchHardMiner(distance=ExactEuclidean())(embeddings, labels)
    loss = TripletMarginLoss(margin=margin, distance=ExactEuclidean(), reducer=MeanReducer())
    return loss(embeddings, labels, triplets)


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")
    d = torch.linalg.vector_norm(x1 - x2, dim=1)
    return torch.where(same, d ** 2, (margin - d).clamp(min=0) ** 2).mean() / 2
