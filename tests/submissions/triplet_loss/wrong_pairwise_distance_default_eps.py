"""Bug: F.triplet_margin_loss and F.pairwise_distance with their default eps = 1e-6, which
is added to every coordinate difference: |a - b + eps|. Identical rows are sqrt(D) * 1e-6
apart and every distance is off by about 1e-6: invisible in float32, far above float64
rounding. (In the spec's worked example the errors cancel by symmetry.)

expect: fail defaults, matches_brute_force_float64
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
    pos, neg = _masks(labels)
    x = embeddings
    if mining == "batch_all":
        a, p, n = torch.nonzero(pos[:, :, None] & neg[:, None, :], as_tuple=True)
        d_ap = torch.nn.functional.pairwise_distance(x[a], x[p])
        d_an = torch.nn.functional.pairwise_distance(x[a], x[n])
        losses = (d_ap - d_an + margin).clamp(min=0)
        return losses.sum() / (losses > 0).sum().clamp(min=1)
    anchors = torch.nonzero(pos.any(1) & neg.any(1)).flatten()
    with torch.no_grad():
        d = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")
        p = d.masked_fill(~pos, -1.0).argmax(1)[anchors]
        n = d.masked_fill(~neg, float("inf")).argmin(1)[anchors]
    if margin == 0:
        losses = (torch.nn.functional.pairwise_distance(x[anchors], x[p])
                  - torch.nn.functional.pairwise_distance(x[anchors], x[n])).clamp(min=0)
    else:
        losses = torch.nn.functional.triplet_margin_loss(x[anchors], x[p], x[n], margin=margin, reduction="none")
    return losses.sum() / max(len(anchors), 1)


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")
    diff = x1 - x2
    d = torch.linalg.vector_norm(diff, dim=1)
    return torch.where(same, diff.pow(2).sum(1), (margin - d).clamp(min=0) ** 2).mean() / 2
