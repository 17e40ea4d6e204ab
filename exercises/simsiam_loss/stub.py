"""Exercise simsiam_loss: implement SimSiam's symmetric loss with its stop-gradient.

Read spec.md in this folder, then run `grade simsiam_loss`.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will probably want it)


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """p1, p2: predictions (N, D); z1, z2: projections (N, D) of views 1 and 2. Returns the 0-dim loss."""
    # TODO: validate the four shapes, then average D(p1, z2) and D(p2, z1), where
    # D(p, z) is minus the batch mean of the cosine between p and z, with no gradient to z.
    raise NotImplementedError
