"""Bug: correct values, but batch_all as three nested Python loops over (anchor, positive,
negative): B^3 Python iterations, hopeless at B = 128 (2.1 million).

expect: fail speed_batch_all
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
    b = len(labels)
    ys = labels.tolist()
    dist = torch.linalg.vector_norm(embeddings[:, None] - embeddings[None], dim=-1)
    if mining == "batch_hard":
        same = labels[:, None] == labels[None, :]
        pos = same & ~torch.eye(b, dtype=torch.bool)
        neg = ~same
        far = dist.masked_fill(~pos, float("-inf")).amax(1)
        near = dist.masked_fill(~neg, float("inf")).amin(1)
        return (far - near + margin).clamp(min=0).sum() / (pos.any(1) & neg.any(1)).sum().clamp(min=1)
    total, count = embeddings.sum() * 0, 0
    for a in range(b):
        for p in range(b):
            if p == a or ys[p] != ys[a]:
                continue
            for n in range(b):
                if ys[n] == ys[a]:
                    continue
                loss = dist[a, p] - dist[a, n] + margin
                if loss > 0:
                    total = total + loss
                    count += 1
    return total / max(count, 1)


def _validate_pair(x1, x2, same, margin):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    _validate_pair(x1, x2, same, margin)
    d = torch.linalg.vector_norm(x1 - x2, dim=1)
    return torch.where(same, d ** 2, torch.clamp(margin - d, min=0) ** 2).mean() / 2
