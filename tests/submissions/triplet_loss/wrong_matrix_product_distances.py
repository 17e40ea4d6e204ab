"""Bug: the pairwise distances of the widely copied TensorFlow blog post (Moindrot 2018):
|a|^2 - 2 a.b + |b|^2 from one matrix product, negatives clamped to 0, and a masked sqrt
that keeps the gradient finite at exact zeros. The gradient is safe; the values are not:
rows of norm 100 that are 1.4 apart lose all but a few digits of their distance in float32.

expect: fail far_from_origin
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


def _pairwise_distances(x):
    dot = x @ x.T
    square_norm = torch.diagonal(dot)
    d = (square_norm[None, :] - 2.0 * dot + square_norm[:, None]).clamp(min=0.0)
    mask = (d == 0.0).to(d.dtype)
    d = torch.sqrt(d + mask * 1e-16)
    return d * (1.0 - mask)


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    _validate(embeddings, labels, margin, mining)
    return _reduce(_pairwise_distances(embeddings), *_masks(labels), margin, mining)


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")
    diff = x1 - x2
    d = torch.linalg.vector_norm(diff, dim=1)
    return torch.where(same, diff.pow(2).sum(1), (margin - d).clamp(min=0) ** 2).mean() / 2
