"""Bug: batch_all averages over every valid triplet, the easy ones (loss 0) included. The
spec averages over the triplets whose loss is positive: as the embedding improves most
triplets become easy and a mean over all of them shrinks the loss and its gradient
towards 0, however badly the few hard triplets are violated.

expect: fail worked_example_from_spec, batch_all_matches_reference
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


def _reduce(dist, pos, neg, margin, mining):
    if mining == "batch_all":
        hinge = dist[:, :, None] - dist[:, None, :] + margin
        losses = torch.where(pos[:, :, None] & neg[:, None, :], hinge, 0.0).clamp(min=0)
        return losses.sum() / (losses > 0).sum().clamp(min=1)
    far = dist.masked_fill(~pos, float("-inf")).amax(1)
    near = dist.masked_fill(~neg, float("inf")).amin(1)
    return (far - near + margin).clamp(min=0).sum() / (pos.any(1) & neg.any(1)).sum().clamp(min=1)


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    _validate(embeddings, labels, margin, mining)
    dist = torch.linalg.vector_norm(embeddings[:, None] - embeddings[None], dim=-1)
    pos, neg = _masks(labels)
    if mining == "batch_hard":
        return _reduce(dist, pos, neg, margin, mining)
    valid = pos[:, :, None] & neg[:, None, :]
    losses = torch.where(valid, dist[:, :, None] - dist[:, None, :] + margin, 0.0).clamp(min=0)
    return losses.sum() / valid.sum().clamp(min=1)


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")
    diff = x1 - x2
    d = torch.linalg.vector_norm(diff, dim=1)
    return torch.where(same, diff.pow(2).sum(1), (margin - d).clamp(min=0) ** 2).mean() / 2
