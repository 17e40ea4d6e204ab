"""Exercise clip_loss: implement CLIP's symmetric contrastive loss and SigLIP's sigmoid loss.

Read spec.md in this folder, then run `grade clip_loss`.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will probably want it)


def clip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """image_emb, text_emb: (N, D), row i of each is a matching pair; logit_scale: 0-dim, the log of
    the scale. Returns the 0-dim mean of the image-to-text and text-to-image cross-entropies."""
    # TODO: validate the shapes, normalize the rows, build the (N, N) logits
    # exp(logit_scale) * cosine, and average the cross-entropy over rows and over columns.
    raise NotImplementedError


def siglip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor,
                logit_bias: torch.Tensor) -> torch.Tensor:
    """As clip_loss, plus logit_bias (0-dim). Returns the 0-dim pairwise sigmoid loss, summed over
    the N^2 pairs and divided by N."""
    # TODO: logits = exp(logit_scale) * cosine + logit_bias; label +1 on the diagonal, -1 elsewhere;
    # return -(1/N) * sum of log sigmoid(label * logit), computed stably.
    raise NotImplementedError
