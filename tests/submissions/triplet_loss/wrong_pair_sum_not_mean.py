"""Bug: the sum over pairs (Hadsell et al.'s total loss), not the mean the spec asks
for: the loss and its gradients grow with the batch size.

expect: fail worked_example_from_spec, pair_matches_reference
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
    d = torch.linalg.vector_norm(x1 - x2, dim=1)
    return torch.where(same, d ** 2, torch.clamp(margin - d, min=0) ** 2).sum() / 2
