"""Reference CLIP and SigLIP losses for a batch of N matching image-text pairs.

clip_loss: Radford et al. "Learning Transferable Visual Models From Natural Language
Supervision" (CLIP), ICML 2021, Figure 3: the mean of the cross-entropy over the rows
(image to text) and over the columns (text to image) of the scaled cosine-similarity
matrix, targets on the diagonal.

siglip_loss: Zhai, Mustafa, Kolesnikov, Beyer. "Sigmoid Loss for Language Image
Pre-Training" (SigLIP), ICCV 2023, eq. (1) and Algorithm 1: an independent binary
logistic loss for each of the N^2 pairs, summed and divided by N.

logit_scale (and logit_bias) are 0-dim learnable tensors; the scale is exp(logit_scale).
Neither is clamped here: clamping belongs to the training loop (see spec.md).
"""

import torch
import torch.nn.functional as F


def _validate(image_emb, text_emb):
    if not (isinstance(image_emb, torch.Tensor) and isinstance(text_emb, torch.Tensor)):
        raise ValueError("image_emb and text_emb must be tensors")
    if image_emb.dim() != 2 or text_emb.dim() != 2:
        raise ValueError(f"image_emb and text_emb must be 2-D (N, D), got shapes "
                         f"{tuple(image_emb.shape)} and {tuple(text_emb.shape)}")
    if image_emb.shape != text_emb.shape:
        raise ValueError(f"image_emb and text_emb must have the same shape, got "
                         f"{tuple(image_emb.shape)} and {tuple(text_emb.shape)}")
    if image_emb.shape[0] < 1 or image_emb.shape[1] < 1:
        raise ValueError(f"need N >= 1 and D >= 1, got shape {tuple(image_emb.shape)}")


def _cosine_logits(image_emb, text_emb, logit_scale):
    image = F.normalize(image_emb, dim=1)                  # (N, D) unit rows
    text = F.normalize(text_emb, dim=1)                    # (N, D)
    return logit_scale.exp() * (image @ text.T)            # (N, N): row i = image i vs every text


def clip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE: (CE over rows + CE over columns) / 2, targets on the diagonal."""
    _validate(image_emb, text_emb)
    logits = _cosine_logits(image_emb, text_emb, logit_scale)           # (N, N)
    target = torch.arange(logits.shape[0], device=logits.device)        # (N,) pair i matches i
    image_to_text = F.cross_entropy(logits, target)                     # softmax over each row
    text_to_image = F.cross_entropy(logits.T, target)                   # softmax over each column
    return (image_to_text + text_to_image) / 2


def siglip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor,
                logit_bias: torch.Tensor) -> torch.Tensor:
    """-(1/N) * sum_ij log sigmoid(label_ij * (exp(logit_scale) * cos_ij + logit_bias)), label = +-1."""
    _validate(image_emb, text_emb)
    logits = _cosine_logits(image_emb, text_emb, logit_scale) + logit_bias   # (N, N)
    n = logits.shape[0]
    labels = 2 * torch.eye(n, dtype=logits.dtype, device=logits.device) - 1  # (N, N): +1 diagonal, -1 off it
    return -F.logsigmoid(labels * logits).sum() / n
