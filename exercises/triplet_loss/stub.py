"""Exercise triplet_loss: the triplet loss with batch-all and batch-hard mining, and the
contrastive pair loss.

Read spec.md in this folder, then run `grade triplet_loss`.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you may want it)


def triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2,
                 mining: str = "batch_all") -> torch.Tensor:
    """embeddings (B, D), labels (B,) integers. Returns the 0-dim mean triplet loss.

    mining="batch_all": the mean of max(d(a, p) - d(a, n) + margin, 0) over the valid triplets
    whose loss is positive. mining="batch_hard": per anchor, its farthest positive and nearest
    negative; the mean over the anchors that have both. d is the Euclidean distance.
    """
    # TODO: validate the inputs, compute the (B, B) distances (exactly 0 between identical
    # rows, with a finite gradient there), mask the valid positives and negatives, and reduce
    # as the spec says (0, attached to the graph, when nothing counts).
    raise NotImplementedError


def contrastive_pair_loss(x1: torch.Tensor, x2: torch.Tensor, same: torch.Tensor,
                          margin: float = 1.0) -> torch.Tensor:
    """x1, x2 (B, D); same (B,) bool, True for a similar pair. Returns the 0-dim mean of
    d^2 / 2 (same) or max(margin - d, 0)^2 / 2 (not same) over the pairs."""
    # TODO: validate the inputs and compute the mean over the pairs.
    raise NotImplementedError
