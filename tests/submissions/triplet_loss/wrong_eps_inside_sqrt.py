"""Bug: the square root kept finite with an epsilon inside it, sqrt(|a - b|^2 + 1e-12). The
gradient at identical rows is then 0, as it should be, but their distance is 1e-6 instead
of 0: every triplet that involves two identical rows is off by 1e-6, far above float64
rounding (elsewhere the shift is 1e-12 / (2 d), and invisible). Clamping instead,
sqrt(max(|a - b|^2, tiny)), or torch.linalg.vector_norm keeps identical rows 0 apart.

expect: fail coincident_rows
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
    dist = torch.sqrt((embeddings[:, None] - embeddings[None]).pow(2).sum(-1) + 1e-12)
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
    d = torch.linalg.vector_norm(x1 - x2, dim=1)
    return torch.where(same, d ** 2, (margin - d).clamp(min=0) ** 2).mean() / 2
