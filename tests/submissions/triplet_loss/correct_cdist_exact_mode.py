"""Correct: torch.cdist in its exact mode (differences, not the matrix product), infinities in
place of the masks: an invalid positive is -inf, an invalid negative +inf, so their hinge is
-inf and clamps to 0 without a (B, B, B) mask. The count of positive losses is taken without
gradient.

expect: pass
"""

import torch


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    if mining not in {"batch_all", "batch_hard"}:
        raise ValueError("mining must be 'batch_all' or 'batch_hard'")
    if margin != margin or margin < 0:
        raise ValueError("margin must be >= 0")
    if embeddings.ndim != 2 or labels.shape != (embeddings.shape[0],):
        raise ValueError("bad shapes")
    d = torch.cdist(embeddings, embeddings, compute_mode="donot_use_mm_for_euclid_dist")
    same = labels[:, None] == labels[None, :]
    same.fill_diagonal_(False)
    other = labels[:, None] != labels[None, :]
    d_pos = d.masked_fill(~same, float("-inf"))
    d_neg = d.masked_fill(~other, float("inf"))
    if mining == "batch_hard":
        d_pos, d_neg = d_pos.amax(1, keepdim=True), d_neg.amin(1, keepdim=True)
        count = (same.any(1) & other.any(1)).sum()
        return (d_pos - d_neg + margin).clamp(min=0).sum() / max(count.item(), 1)
    losses = (d_pos[:, :, None] - d_neg[:, None, :] + margin).clamp(min=0)
    with torch.no_grad():
        count = torch.count_nonzero(losses).clamp(min=1)
    return losses.sum() / count


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if margin != margin or margin < 0:
        raise ValueError("margin must be >= 0")
    if x1.ndim != 2 or x1.shape != x2.shape or same.shape != (x1.shape[0],):
        raise ValueError("bad shapes")
    d = torch.linalg.norm(x1 - x2, dim=1)
    pull = 0.5 * d ** 2
    push = 0.5 * torch.clamp(margin - d, min=0) ** 2
    return (same * pull + ~same * push).mean()
