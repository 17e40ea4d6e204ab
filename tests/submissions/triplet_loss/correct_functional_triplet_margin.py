"""Correct: torch.nn.functional.triplet_margin_loss on enumerated triplets, with eps=0.

F.triplet_margin_loss measures distances with F.pairwise_distance, which adds eps = 1e-6 to
every coordinate difference by default (wrong_pairwise_distance_default_eps.py); with eps=0
it is the exact Euclidean distance, and its norm's backward gives 0 at identical rows.
batch_all keeps the per-triplet losses (reduction='none') and averages the positive ones;
batch_hard picks each anchor's argmax positive and argmin negative and averages the hinge
over the anchors that have both. F.triplet_margin_loss refuses margin = 0 (ValueError:
"margin must be greater than 0"), which the contract allows: there the same hinge is written
out with F.pairwise_distance.

expect: pass
"""

import torch
import torch.nn.functional as F


def _validate(embeddings, labels, margin, mining):
    if mining not in ("batch_all", "batch_hard"):
        raise ValueError(mining)
    if not margin >= 0:
        raise ValueError(margin)
    if embeddings.dim() != 2 or labels.dim() != 1 or len(labels) != len(embeddings):
        raise ValueError("shapes")


def _hinges(anchor, positive, negative, margin):
    if margin > 0:
        return F.triplet_margin_loss(anchor, positive, negative, margin=margin, eps=0.0, reduction="none")
    return F.relu(F.pairwise_distance(anchor, positive, eps=0.0) - F.pairwise_distance(anchor, negative, eps=0.0))


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    _validate(embeddings, labels, margin, mining)
    b = len(labels)
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(b, dtype=torch.bool, device=labels.device)
    neg = ~same
    if mining == "batch_all":
        a, p, n = torch.nonzero(pos[:, :, None] & neg[:, None, :], as_tuple=True)
        losses = _hinges(embeddings[a], embeddings[p], embeddings[n], margin)
        active = (losses > 0).sum()
        return losses.sum() / active.clamp(min=1)
    with torch.no_grad():
        d = torch.cdist(embeddings, embeddings, compute_mode="donot_use_mm_for_euclid_dist")
        anchors = torch.nonzero(pos.any(1) & neg.any(1)).flatten()
        hardest_p = d.masked_fill(~pos, -1.0).argmax(1)[anchors]
        hardest_n = d.masked_fill(~neg, float("inf")).argmin(1)[anchors]
    losses = _hinges(embeddings[anchors], embeddings[hardest_p], embeddings[hardest_n], margin)
    return losses.sum() / max(len(anchors), 1)


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError(margin)
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("shapes")
    d = F.pairwise_distance(x1, x2, eps=0.0)
    return torch.where(same, d.pow(2), F.relu(margin - d).pow(2)).mean() / 2
