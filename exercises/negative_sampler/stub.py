"""Exercise negative_sampler: three negative samplers for contrastive learning.

Read spec.md in this folder, then run `grade negative_sampler`.
"""

import torch


def sample_negatives(labels: torch.Tensor, num_negatives: int,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """labels: (B,) integer class ids. Returns (B, K) int64: row i is a uniformly random set of
    K distinct indices j with labels[j] != labels[i], drawn independently for every row."""
    # TODO: validate (ValueError naming the first anchor with fewer than K valid candidates),
    # then draw every row at once: no Python loop over the batch. Use only `generator` for
    # randomness when it is given.
    raise NotImplementedError


def hard_negatives(similarity: torch.Tensor, anchor_labels: torch.Tensor,
                   candidate_labels: torch.Tensor, num_negatives: int) -> torch.Tensor:
    """similarity: (B, M). Returns (B, K) int64: per row, the K candidates of another label with
    the highest similarity, in decreasing order; equal similarities go by the smaller index."""
    # TODO: validate, mask the positives, select the top K without a full sort of every row,
    # and break ties exactly.
    raise NotImplementedError


def sample_unigram(counts: torch.Tensor, num_samples: int, power: float = 0.75,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """counts: (V,) non-negative. Returns (num_samples,) int64 ids drawn independently with
    P(i) proportional to counts[i] ** power (never an item whose count is 0)."""
    # TODO: validate, build the weights, draw with replacement.
    raise NotImplementedError
