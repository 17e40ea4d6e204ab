"""Reference negative samplers: class-aware uniform negatives, hard negatives, smoothed unigram.

- sample_negatives: each anchor gets an independent, uniformly random K-subset of the
  batch items whose label differs from its own (class-aware in-batch negatives, as in
  supervised contrastive setups, e.g. Khosla et al., "Supervised Contrastive Learning",
  NeurIPS 2020). The subset is drawn with Floyd's algorithm (Bentley and Floyd,
  "Programming Pearls: A Sample of Brilliance", CACM 30(9), 1987), run for all anchors
  at once: the Python loop is over the K picks, never over the batch.
- hard_negatives: the K most similar candidates of another class (hard-negative mining:
  Schroff, Kalenichenko, Philbin, "FaceNet", CVPR 2015; Robinson, Chuang, Sra, Jegelka,
  "Contrastive Learning with Hard Negative Samples", ICLR 2021).
- sample_unigram: ids drawn with probability proportional to count**power, word2vec's
  smoothed unigram noise distribution with power 3/4 (Mikolov, Sutskever, Chen, Corrado,
  Dean, "Distributed Representations of Words and Phrases and their Compositionality",
  NeurIPS 2013).
"""

import math

import torch


# -- validation ----------------------------------------------------------------------
def _check_labels(labels, name):
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"{name} must be a 1-D integer tensor, got {shape}")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class ids, got dtype {labels.dtype}")


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _check_enough(available, k):
    """available: (B,) number of valid candidates per anchor; the first short anchor is named."""
    short = (available < k).nonzero()
    if short.numel():
        i = int(short[0, 0])
        raise ValueError(f"anchor {i} has only {int(available[i])} valid negatives "
                         f"(candidates with a different label), fewer than num_negatives={k}")


def _same_label_blocks(sorted_labels, labels):
    """For each label, where its block starts in sorted_labels and how long the block is."""
    start = torch.searchsorted(sorted_labels, labels)                 # (B,)
    end = torch.searchsorted(sorted_labels, labels, right=True)       # (B,)
    return start, end - start


# -- uniform class-aware negatives --------------------------------------------------------
def _floyd_subsets(n, k, generator):
    """(B, k) distinct ranks, row i a uniform k-subset of [0, n[i]); needs n >= k.

    Floyd: for j = n-k, ..., n-1 draw t uniform in [0, j]; keep t, or j if t is taken.
    """
    b = n.shape[0]
    picked = torch.empty(b, k, dtype=torch.long, device=n.device)
    for step in range(k):                                             # over K, not over B
        top = n - k + step                                            # (B,) largest rank allowed
        u = torch.rand(b, generator=generator, device=n.device, dtype=torch.float64)
        t = torch.minimum((u * (top + 1)).long(), top)                # (B,) uniform in [0, top]
        taken = (picked[:, :step] == t[:, None]).any(dim=1)          # (B,)
        picked[:, step] = torch.where(taken, top, t)
    return picked


def sample_negatives(labels, num_negatives, generator=None):
    """(B, K) long: row i is a uniform random K-subset of {j : labels[j] != labels[i]}."""
    _check_labels(labels, "labels")
    k = _check_count(num_negatives, "num_negatives")
    labels = labels.long()
    order = torch.argsort(labels, stable=True)                        # (B,) batch grouped by label
    start, size = _same_label_blocks(labels[order], labels)           # (B,), (B,) own block in order
    available = labels.shape[0] - size                                # (B,) valid candidates
    _check_enough(available, k)
    ranks = _floyd_subsets(available, k, generator)                   # (B, K) in [0, available)
    positions = ranks + size[:, None] * (ranks >= start[:, None])     # (B, K) skip the own block
    return order[positions]


# -- hard negatives ---------------------------------------------------------------------------
def hard_negatives(similarity, anchor_labels, candidate_labels, num_negatives):
    """(B, K) long: per row the K most similar other-class candidates, by (value desc, index asc)."""
    _check_labels(anchor_labels, "anchor_labels")
    _check_labels(candidate_labels, "candidate_labels")
    k = _check_count(num_negatives, "num_negatives")
    b, m = anchor_labels.shape[0], candidate_labels.shape[0]
    if not isinstance(similarity, torch.Tensor) or tuple(similarity.shape) != (b, m):
        shape = tuple(similarity.shape) if isinstance(similarity, torch.Tensor) else type(similarity).__name__
        raise ValueError(f"similarity must have shape (B, M) = ({b}, {m}), got {shape}")
    if not similarity.is_floating_point():
        raise ValueError(f"similarity must be a floating tensor, got dtype {similarity.dtype}")
    anchor_labels, candidate_labels = anchor_labels.long(), candidate_labels.long()
    _, same = _same_label_blocks(candidate_labels.sort().values, anchor_labels)
    _check_enough(m - same, k)
    positive = anchor_labels[:, None] == candidate_labels[None, :]     # (B, M)
    scores = similarity.masked_fill(positive, -math.inf)              # (B, M) positives never win
    top = scores.topk(min(k + 1, m), dim=1)                           # ties: order and set unspecified
    chosen = top.indices[:, :k].sort(dim=1).values                    # (B, K) by index
    by_value = scores.gather(1, chosen).sort(dim=1, descending=True, stable=True).indices
    result = chosen.gather(1, by_value)                               # (B, K) value desc, index asc
    if k < m:
        # a tie across the K-th place: topk may have kept a larger index; redo those rows exactly
        tied = (top.values[:, k] == top.values[:, k - 1]).nonzero().squeeze(1)
        if tied.numel():
            result[tied] = scores[tied].sort(dim=1, descending=True, stable=True).indices[:, :k]
    return result


# -- smoothed unigram ----------------------------------------------------------------------------
def sample_unigram(counts, num_samples, power=0.75, generator=None):
    """(num_samples,) long: i.i.d. ids with P(i) proportional to counts[i]**power (0 where counts[i] = 0)."""
    if not isinstance(counts, torch.Tensor) or counts.dim() != 1 or counts.numel() == 0:
        shape = tuple(counts.shape) if isinstance(counts, torch.Tensor) else type(counts).__name__
        raise ValueError(f"counts must be a non-empty 1-D tensor, got {shape}")
    n = _check_count(num_samples, "num_samples")
    if isinstance(power, bool) or not isinstance(power, (int, float)) or not math.isfinite(power) or power < 0:
        raise ValueError(f"power must be a finite number >= 0, got {power!r}")
    c = counts.double()
    if not torch.isfinite(c).all() or (c < 0).any():
        raise ValueError("counts must be finite and non-negative")
    if not (c > 0).any():
        raise ValueError("counts must have at least one positive entry")
    # scale by the largest count first so that count**power cannot overflow;
    # and 0**0 is 1 in floating point, so never-seen items are zeroed explicitly
    weights = torch.where(c > 0, (c / c.max()).pow(power), 0.0)      # (V,)
    return torch.multinomial(weights, n, replacement=True, generator=generator)
