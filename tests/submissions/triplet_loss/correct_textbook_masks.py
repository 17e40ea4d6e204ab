"""Correct: the textbook answer. A (B, B, B) hinge tensor indexed (anchor, positive, negative),
multiplied by the bool mask of valid triplets, divided by the count of positive entries;
batch_hard with a masked max and min. Distances from broadcast differences, with the square
root clamped away from 0 (identical rows are 1e-15 apart, with gradient 0 there).

expect: pass
"""

import torch


def _distances(x):
    sq = (x.unsqueeze(1) - x.unsqueeze(0)).pow(2).sum(-1)        # (B, B)
    return sq.clamp_min(1e-30).sqrt()                              # clamp's gradient is 0 below 1e-30


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    if mining not in ("batch_all", "batch_hard"):
        raise ValueError(f"unknown mining {mining!r}")
    if not margin >= 0:
        raise ValueError("margin must be a number >= 0")
    if embeddings.dim() != 2 or labels.dim() != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError("expected embeddings (B, D) and labels (B,)")
    b = embeddings.shape[0]
    dist = _distances(embeddings)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    not_self = ~torch.eye(b, dtype=torch.bool, device=embeddings.device)
    pos_mask = same & not_self
    neg_mask = ~same
    if mining == "batch_all":
        loss = dist.unsqueeze(2) - dist.unsqueeze(1) + margin    # (B, B, B)
        valid = pos_mask.unsqueeze(2) & neg_mask.unsqueeze(1)
        loss = torch.relu(loss) * valid
        num_positive = (loss > 0).sum()
        return loss.sum() / torch.clamp(num_positive, min=1)
    hardest_pos = (dist * pos_mask).max(dim=1).values            # distances >= 0, so 0 where none
    hardest_neg = torch.where(neg_mask, dist, torch.full_like(dist, float("inf"))).min(dim=1).values
    has_both = pos_mask.any(1) & neg_mask.any(1)
    per_anchor = torch.relu(hardest_pos - hardest_neg + margin) * has_both
    return per_anchor.sum() / has_both.sum().clamp(min=1)


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError("margin must be a number >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")
    sq = (x1 - x2).pow(2).sum(1)
    d = sq.clamp_min(1e-30).sqrt()
    loss = torch.where(same, sq, torch.relu(margin - d) ** 2) / 2
    return loss.mean()
