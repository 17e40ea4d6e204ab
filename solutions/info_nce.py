"""Reference InfoNCE: a softmax cross-entropy that picks each query's positive key among negatives.

van den Oord, Li, Vinyals. "Representation Learning with Contrastive Predictive Coding",
2018, eq. (4), with cosine similarity and a temperature as in MoCo (He et al., "Momentum
Contrast for Unsupervised Visual Representation Learning", CVPR 2020, eq. 1: a shared
queue of negatives, the "unpaired" mode here) and CLIP (Radford et al., "Learning
Transferable Visual Models From Natural Language Supervision", ICML 2021: in-batch
negatives, the negative_keys=None mode here, used in both directions).
The calling convention is that of the info-nce-pytorch package.
"""

import torch
import torch.nn.functional as F

MODES = ("unpaired", "paired")


def _shape(t):
    return tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__


def _validate(query, positive_key, negative_keys, temperature, negative_mode):
    if negative_mode not in MODES:
        raise ValueError(f"negative_mode must be 'unpaired' or 'paired', got {negative_mode!r}")
    if not (isinstance(query, torch.Tensor) and isinstance(positive_key, torch.Tensor)):
        raise ValueError("query and positive_key must be tensors")
    if query.dim() != 2 or positive_key.dim() != 2:
        raise ValueError(f"query and positive_key must be 2-D (N, D), got {_shape(query)} and "
                         f"{_shape(positive_key)}")
    if query.shape != positive_key.shape:
        raise ValueError(f"query and positive_key must have the same shape (N, D), got {_shape(query)} "
                         f"and {_shape(positive_key)}")
    n, d = query.shape
    if n < 1 or d < 1:
        raise ValueError(f"need N >= 1 and D >= 1, got query of shape {_shape(query)}")
    if negative_keys is not None:
        if not isinstance(negative_keys, torch.Tensor):
            raise ValueError("negative_keys must be a tensor or None")
        if negative_mode == "unpaired" and (negative_keys.dim() != 2 or negative_keys.shape[1] != d):
            raise ValueError(f"negative_mode='unpaired' needs negative_keys of shape (M, {d}), "
                             f"got {_shape(negative_keys)}")
        if negative_mode == "paired" and (negative_keys.dim() != 3 or negative_keys.shape[0] != n
                                          or negative_keys.shape[2] != d):
            raise ValueError(f"negative_mode='paired' needs negative_keys of shape ({n}, M, {d}), "
                             f"got {_shape(negative_keys)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


def info_nce(query: torch.Tensor, positive_key: torch.Tensor, negative_keys: torch.Tensor = None,
             temperature: float = 0.1, negative_mode: str = "unpaired") -> torch.Tensor:
    """Mean over the N queries of -log softmax(logits)[target], cosine similarities / temperature."""
    _validate(query, positive_key, negative_keys, temperature, negative_mode)
    # Scaling the N query rows by 1/t costs N*D operations; dividing the logits would cost N*(1+M).
    q = F.normalize(query, dim=-1) / temperature                     # (N, D) unit rows / t
    k = F.normalize(positive_key, dim=-1)                            # (N, D)
    if negative_keys is None:
        logits = q @ k.T                                             # (N, N): q_i . k_j / t
        target = torch.arange(q.shape[0], device=q.device)           # the positive of row i is column i
    else:
        neg = F.normalize(negative_keys, dim=-1)                     # (M, D) or (N, M, D)
        positive = (q * k).sum(dim=1, keepdim=True)                  # (N, 1)
        if negative_mode == "unpaired":
            negative = q @ neg.T                                     # (N, M), one shared set
        else:
            negative = torch.bmm(neg, q.unsqueeze(2)).squeeze(2)     # (N, M), row i against its own set
        logits = torch.cat([positive, negative], dim=1)              # (N, 1 + M)
        target = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)   # the positive is column 0
    return F.cross_entropy(logits, target)                           # 0-dim, log-sum-exp inside
