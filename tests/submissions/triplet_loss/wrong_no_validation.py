"""Bug: no input checks. An unknown mining name silently means batch_all (a typo such as
"batch-hard" trains the wrong loss without a word), and mismatched shapes either broadcast
into a wrong answer or fail deep inside torch with a RuntimeError instead of a ValueError.

expect: fail rejects_unknown_mining, rejects_bad_shapes, pair_rejects_bad_shapes
"""

import torch


def triplet_loss(embeddings, labels, margin=0.2, mining="batch_all"):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    dist = torch.linalg.vector_norm(embeddings[:, None] - embeddings[None], dim=-1)
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    neg = ~same
    if mining == "batch_hard":
        far = dist.masked_fill(~pos, float("-inf")).amax(1)
        near = dist.masked_fill(~neg, float("inf")).amin(1)
        return (far - near + margin).clamp(min=0).sum() / (pos.any(1) & neg.any(1)).sum().clamp(min=1)
    hinge = dist[:, :, None] - dist[:, None, :] + margin
    losses = torch.where(pos[:, :, None] & neg[:, None, :], hinge, 0.0).clamp(min=0)
    return losses.sum() / (losses > 0).sum().clamp(min=1)


def contrastive_pair_loss(x1, x2, same, margin=1.0):
    if not margin >= 0:
        raise ValueError("margin must be >= 0")
    d = torch.linalg.vector_norm(x1 - x2, dim=-1)
    return torch.where(same, d ** 2, torch.clamp(margin - d, min=0) ** 2).mean() / 2
