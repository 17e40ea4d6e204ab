"""Bug: distances computed per triplet, as sqrt(sum of squares) of gathered rows. No triplet
pairs a row with itself, so random inputs pass every check; but where two different rows
are identical (a duplicated image, an embedding that collapsed) sqrt'(0) gives nan.

expect: fail coincident_rows, gradcheck_float64
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


def _dist(a, b):
    return (a - b).pow(2).sum(-1).sqrt()


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    _validate(embeddings, labels, margin, mining)
    pos, neg = _masks(labels)
    if mining == "batch_all":
        a, p, n = torch.nonzero(pos[:, :, None] & neg[:, None, :], as_tuple=True)
        losses = (_dist(embeddings[a], embeddings[p]) - _dist(embeddings[a], embeddings[n]) + margin).clamp(min=0)
        return losses.sum() / (losses > 0).sum().clamp(min=1)
    anchors = torch.nonzero(pos.any(1) & neg.any(1)).flatten()
    with torch.no_grad():
        d = torch.cdist(embeddings, embeddings, compute_mode="donot_use_mm_for_euclid_dist")
        p = d.masked_fill(~pos, -1.0).argmax(1)[anchors]
        n = d.masked_fill(~neg, float("inf")).argmin(1)[anchors]
    x = embeddings
    losses = (_dist(x[anchors], x[p]) - _dist(x[anchors], x[n]) + margin).clamp(min=0)
    return losses.sum() / max(len(anchors), 1)


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")
    diff = x1 - x2
    d = torch.linalg.vector_norm(diff, dim=1)
    return torch.where(same, diff.pow(2).sum(1), (margin - d).clamp(min=0) ** 2).mean() / 2
