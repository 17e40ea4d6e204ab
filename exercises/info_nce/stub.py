"""Exercise info_nce: implement the InfoNCE loss (CPC, MoCo, CLIP) with three ways of giving negatives.

Read spec.md in this folder, then run `grade info_nce`.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will probably want it)


def info_nce(query: torch.Tensor, positive_key: torch.Tensor, negative_keys: torch.Tensor = None,
             temperature: float = 0.1, negative_mode: str = "unpaired") -> torch.Tensor:
    """query, positive_key: (N, D). negative_keys: None (in-batch), (M, D) ("unpaired") or (N, M, D) ("paired").

    Returns the 0-dim mean cross-entropy that picks each query's positive key.
    """
    # TODO: validate the inputs, L2-normalize every vector, build the logits for the mode
    # (in-batch: q k^T, target i; with negative_keys: [positive, negatives], target 0),
    # divide by the temperature and average the cross-entropy over the N queries.
    raise NotImplementedError
