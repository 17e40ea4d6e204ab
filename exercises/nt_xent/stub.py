"""Exercise nt_xent: implement the NT-Xent loss of SimCLR.

Read spec.md in this folder, then run `grade nt_xent`.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will probably want it)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """z1, z2: (N, D), row i of each is a view of sample i. Returns the 0-dim mean loss."""
    # TODO: validate the inputs, build the (2N, 2N) cosine-similarity logits,
    # exclude each anchor from its own denominator, and average the cross-entropy
    # towards each anchor's partner over all 2N anchors.
    raise NotImplementedError
