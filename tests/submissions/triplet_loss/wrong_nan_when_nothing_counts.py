"""Bug: the mean of an empty selection. With no active triplet (batch_all) or no anchor that
has both a positive and a negative (batch_hard: a batch of one class, or of singletons)
losses[mask].mean() is nan, and one nan step ruins the weights.

expect: fail zero_when_no_triplet_counts
"""

import torch


def _validate(embeddings, labels, margin, mining):
    if mining not in ("batch_all", "batch_hard"):
        raise ValueError(f"unknown mining {mining!r}")
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if embeddings.dim() != 2 or labels.dim() != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError("expected embeddings (B, D) and labels (B,)")


def _masks(labels):
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    _validate(embeddings, labels, margin, mining)
    dist = torch.linalg.vector_norm(embeddings[:, None] - embeddings[None], dim=-1)
    pos, neg = _masks(labels)
    if mining == "batch_all":
        hinge = dist[:, :, None] - dist[:, None, :] + margin
        losses = hinge[pos[:, :, None] & neg[:, None, :]].clamp(min=0)
        return losses[losses > 0].mean()
    far = dist.masked_fill(~pos, float("-inf")).amax(1)
    near = dist.masked_fill(~neg, float("inf")).amin(1)
    keep = pos.any(1) & neg.any(1)
    return (far - near + margin).clamp(min=0)[keep].mean()


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")
    diff = x1 - x2
    d = torch.linalg.vector_norm(diff, dim=1)
    return torch.where(same, diff.pow(2).sum(1), (margin - d).clamp(min=0) ** 2).mean() / 2
