"""Exercise supcon_loss: implement the supervised contrastive loss (SupCon, L_out).

Read spec.md in this folder, then run `grade supcon_loss`.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will probably want it)


def supcon_loss(features: torch.Tensor, labels: torch.Tensor | None = None,
                temperature: float = 0.1) -> torch.Tensor:
    """features: (B, V, D), V views of each of B samples; labels: (B,) integers, or None (each sample
    its own class). Returns the 0-dim mean over the anchors that have a positive of L_out."""
    # TODO: validate, normalize every row, build the (BV, BV) logits with each anchor's own
    # entry excluded, the mask of positives (same label, not itself), and average
    # -mean_p log_softmax over the anchors that have at least one positive.
    raise NotImplementedError
