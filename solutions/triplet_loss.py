"""Reference triplet loss with batch-all and batch-hard mining, and the contrastive pair loss.

Triplet loss: Schroff, Kalenichenko, Philbin, "FaceNet: A Unified Embedding for Face
Recognition and Clustering", CVPR 2015, Section 3.1 (there with squared distances). Batch
all and batch hard: Hermans, Beyer, Leibe, "In Defense of the Triplet Loss for Person
Re-Identification", arXiv:1703.07737, 2017, Section 2 (L_BA and L_BH), with Euclidean (not
squared) distances as there; batch all averages over the triplets whose loss is positive.
Contrastive pair loss: Hadsell, Chopra, LeCun, "Dimensionality Reduction by Learning an
Invariant Mapping", CVPR 2006, eq. (4), with `same` = True for Y = 0 (a similar pair).
"""

import torch

MININGS = ("batch_all", "batch_hard")


def _check_margin(margin):
    if not margin >= 0:      # NaN fails this comparison too
        raise ValueError(f"margin must be >= 0, got {margin}")


def _validate_triplet(embeddings, labels, margin, mining):
    if mining not in MININGS:
        raise ValueError(f"mining must be one of {MININGS}, got {mining!r}")
    _check_margin(margin)
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be 2-D (B, D), got shape {tuple(embeddings.shape)}")
    if labels.dim() != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError(f"labels must have shape ({embeddings.shape[0]},), got {tuple(labels.shape)}")


def pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    """(B, B) Euclidean distances between the rows of x, from their differences.

    Identical rows are exactly 0 apart, and vector_norm's backward gives them gradient 0
    (not the NaN of sqrt'(0)). The matrix-product expansion |a|^2 + |b|^2 - 2 a.b (and
    torch.cdist's default mode, which uses it beyond 25 rows) leaves rounding noise there.
    """
    return torch.linalg.vector_norm(x[:, None, :] - x[None, :, :], dim=-1)   # (B, B)


def triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2,
                 mining: str = "batch_all") -> torch.Tensor:
    """Mean of max(d(a, p) - d(a, n) + margin, 0) over the mined triplets of a batch.

    A valid triplet has a != p with labels[a] == labels[p], and labels[n] != labels[a].
    batch_all: the mean over the valid triplets whose loss is positive (0 if none is).
    batch_hard: for each anchor, its farthest positive and nearest negative; the mean over
    the anchors that have both (0 if none has). The 0 is attached to the graph.
    """
    _validate_triplet(embeddings, labels, margin, mining)
    b = embeddings.shape[0]
    dist = pairwise_distances(embeddings)                                   # (B, B)
    same = labels[:, None] == labels[None, :]                               # (B, B)
    eye = torch.eye(b, dtype=torch.bool, device=embeddings.device)          # (B, B)
    positive, negative = same & ~eye, ~same                                 # (B, B) each
    if mining == "batch_all":
        return _batch_all(dist, positive, negative, margin)
    return _batch_hard(dist, positive, negative, margin)


def _batch_all(dist, positive, negative, margin):
    hinge = dist[:, :, None] - dist[:, None, :] + margin                   # (B, B, B): a, p, n
    valid = positive[:, :, None] & negative[:, None, :]                     # (B, B, B)
    losses = torch.where(valid, hinge, 0.0).clamp_min(0)                    # (B, B, B)
    # the losses are >= 0, so their signs sum to the number of positive ones (a float sum:
    # exact up to 2^24 active triplets, and much faster on the CPU than summing a bool mask)
    active = losses.detach().sign().sum()                                   # ()
    return losses.sum() / active.clamp_min(1)


def _batch_hard(dist, positive, negative, margin):
    # -inf / +inf where a row has no positive / negative: its hinge is then -inf, clamped to 0
    farthest_positive = dist.masked_fill(~positive, float("-inf")).amax(1)  # (B,)
    nearest_negative = dist.masked_fill(~negative, float("inf")).amin(1)    # (B,)
    losses = (farthest_positive - nearest_negative + margin).clamp_min(0)   # (B,)
    anchors = (positive.any(1) & negative.any(1)).sum()                     # () int
    return losses.sum() / anchors.clamp_min(1)


def contrastive_pair_loss(x1: torch.Tensor, x2: torch.Tensor, same: torch.Tensor,
                          margin: float = 1.0) -> torch.Tensor:
    """Mean over pairs of d^2 / 2 if same, else max(margin - d, 0)^2 / 2 (Hadsell et al. 2006).

    x1, x2: (B, D); same: bool (B,), True where x1[i] and x2[i] are a similar pair.
    """
    _check_margin(margin)
    if x1.dim() != 2 or x1.shape != x2.shape:
        raise ValueError(f"x1 and x2 must both be (B, D), got {tuple(x1.shape)} and {tuple(x2.shape)}")
    if same.shape != x1.shape[:1]:
        raise ValueError(f"same must have shape ({x1.shape[0]},), got {tuple(same.shape)}")
    diff = x1 - x2                                                          # (B, D)
    pull = diff.pow(2).sum(1) / 2                                           # (B,) d^2 / 2, exact
    dist = torch.linalg.vector_norm(diff, dim=1)                            # (B,) gradient 0 at d = 0
    push = (margin - dist).clamp_min(0).pow(2) / 2                          # (B,)
    return torch.where(same, pull, push).mean()
