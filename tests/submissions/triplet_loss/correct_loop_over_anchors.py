"""Correct: batch_all as a Python loop over the anchors, each anchor's (positives x negatives)
block of hinges built from one row of the distance matrix; batch_hard vectorized with
torch.max / torch.min over masked rows (their gradient goes to one row where distances tie,
a case the grader avoids). The loop touches only valid triplets, so it is not slower than a
(B, B, B) tensor at the speed check's size.

expect: pass
"""

import torch


def _distances(x):
    return torch.linalg.norm(x[:, None, :] - x[None, :, :], dim=2)


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    if mining not in ("batch_all", "batch_hard"):
        raise ValueError("mining must be 'batch_all' or 'batch_hard'")
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if embeddings.dim() != 2 or labels.dim() != 1 or labels.numel() != embeddings.shape[0]:
        raise ValueError("expected embeddings (B, D) and labels (B,)")
    d = _distances(embeddings)
    b = labels.numel()
    same = labels.view(-1, 1) == labels.view(1, -1)
    eye = torch.eye(b, dtype=torch.bool, device=labels.device)
    if mining == "batch_hard":
        pos, neg = same & ~eye, ~same
        big = d.detach().max() + 1
        hardest_pos = torch.max(torch.where(pos, d, -big), dim=1).values
        hardest_neg = torch.min(torch.where(neg, d, big), dim=1).values
        keep = pos.any(1) & neg.any(1)
        losses = torch.relu(hardest_pos - hardest_neg + margin)[keep]
        return losses.sum() / max(int(keep.sum()), 1)
    total = d.sum() * 0          # 0, attached to the graph even if no anchor has a triplet
    count = 0
    for a in range(b):
        d_pos = d[a][same[a] & ~eye[a]]
        d_neg = d[a][~same[a]]
        if d_pos.numel() == 0 or d_neg.numel() == 0:
            continue
        hinge = torch.relu(d_pos[:, None] - d_neg[None, :] + margin)
        total = total + hinge.sum()
        count += int((hinge > 0).sum())
    return total / max(count, 1)


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    if x1.dim() != 2 or x1.shape != x2.shape or same.shape != x1.shape[:1]:
        raise ValueError("expected x1, x2 (B, D) and same (B,)")
    d = torch.linalg.norm(x1 - x2, dim=1)
    sim = same.to(x1.dtype)
    return (sim * d.pow(2) + (1 - sim) * torch.relu(margin - d).pow(2)).mean() / 2
