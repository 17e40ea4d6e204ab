"""Exercise representation_metrics: alignment, uniformity and effective rank of embeddings.

Read spec.md in this folder, then run `grade representation_metrics`.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will probably want it)


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2) -> torch.Tensor:
    """x, y: (N, D), row i of each is a positive pair. Returns the 0-dim mean of
    ||x_i/|x_i| - y_i/|y_i| ||^alpha (Wang & Isola 2020)."""
    # TODO: validate, L2-normalize both, average the alpha-th power of the pair distances.
    raise NotImplementedError


def uniformity(x: torch.Tensor, t: float = 2) -> torch.Tensor:
    """x: (N, D), N >= 2. Returns the 0-dim log of the mean over pairs i < j of
    exp(-t ||u_i - u_j||^2), u = L2-normalized rows (Wang & Isola 2020)."""
    # TODO: validate, normalize, pairwise squared distances without the self-pairs, log-mean-exp.
    raise NotImplementedError


def effective_rank(features: torch.Tensor) -> torch.Tensor:
    """features: (N, D). Returns the 0-dim exp of the entropy of the singular values
    normalized to sum to 1 (Roy & Vetterli 2007), of the matrix as given."""
    # TODO: validate, singular values, p = s / s.sum(), exp(-sum p log p) with 0 log 0 = 0.
    raise NotImplementedError
