"""Deviates: pytorch-metric-learning's ContrastiveLoss (version 2.9) as contrastive_pair_loss,
with an exact, unnormalized distance and the pairs passed as an indices tuple.

It is not the loss of Hadsell et al. (2006), eq. (4): a similar pair costs relu(d - pos_margin)
and a dissimilar one relu(neg_margin - d), neither squared nor halved, and its default
reducer averages the similar and the dissimilar pairs separately, each over its non-zero
terms, then adds the two means. No setting of it gives the mean over pairs of d^2 / 2 and
max(margin - d, 0)^2 / 2 (a squared distance would square the pull but not the push).

expect: fail worked_example_from_spec, pair_matches_reference
requires: pytorch_metric_learning
"""

import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.losses import ContrastiveLoss


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
    dist = torch.linalg.vector_norm(embeddings[:, None] - embeddings[None], dim=-1)
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    neg = ~same
    if mining == "batch_all":
        hinge = dist[:, :, None] - dist[:, None, :] + margin
        losses = torch.where(pos[:, :, None] & neg[:, None, :], hinge, 0.0).clamp(min=0)
        return losses.sum() / (losses > 0).sum().clamp(min=1)
    far = dist.masked_fill(~pos, float("-inf")).amax(1)
    near = dist.masked_fill(~neg, float("inf")).amin(1)
    return (far - near + margin).clamp(min=0).sum() / (pos.any(1) & neg.any(1)).sum().clamp(min=1)


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")
    b = x1.shape[0]
    rows = torch.arange(b, device=x1.device)
    pairs = (rows[same], rows[same] + b, rows[~same], rows[~same] + b)   # (a1, p, a2, n) in cat(x1, x2)
    loss = ContrastiveLoss(pos_margin=0.0, neg_margin=margin, distance=ExactEuclidean())
    return loss(torch.cat([x1, x2]), indices_tuple=pairs)
