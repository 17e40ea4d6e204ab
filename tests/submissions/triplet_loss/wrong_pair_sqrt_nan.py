"""Bug: d = sqrt(sum of squares) for every pair, then torch.where picks d^2 / 2 or the hinge.
Where x1[i] equals x2[i], sqrt'(0) is infinite, and torch.where does not help: its backward
sends 0 into the branch it did not pick, and 0 * inf is nan.

expect: fail pair_coincident_rows, gradcheck_float64
"""

import torch


def _validate(embeddings, labels, margin, mining):
    if mining not in ("batch_all", "batch_hard"):
        raise ValueError(f"unknown mining {mining!r}")
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if embeddings.dim() != 2 or labels.dim() != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError("expected embeddings (B, D) and labels (B,)")


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    _validate(embeddings, labels, margin, mining)
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


def _validate_pair(x1, x2, same, margin):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    _validate_pair(x1, x2, same, margin)
    d = (x1 - x2).pow(2).sum(1).sqrt()
    return torch.where(same, 0.5 * d ** 2, 0.5 * torch.relu(margin - d) ** 2).mean()
