"""Reference supervised contrastive loss, L_out.

Khosla, Teterwak, Wang, Sarna, Tian, Isola, Maschinot, Liu, Krishnan. "Supervised
Contrastive Learning", NeurIPS 2020, eq. (2): for every anchor (each view of each sample),
minus the mean over its positives (the other rows with its label) of the log-softmax of
its cosine similarities to every other row, divided by the temperature. Averaged over the
anchors that have a positive, as the released code (HobbitLong/SupContrast) averages over
anchors; it differs in ways spec.md lists.
"""

import torch
import torch.nn.functional as F


def _validate(features, labels, temperature):
    if not isinstance(features, torch.Tensor) or features.dim() != 3:
        raise ValueError(f"features must be a 3-D tensor (B, V, D), got shape "
                         f"{tuple(getattr(features, 'shape', ()))}")
    b, v, d = features.shape
    if b < 1 or v < 1 or d < 1:
        raise ValueError(f"need B, V, D >= 1, got shape {tuple(features.shape)}")
    if labels is not None:
        if not isinstance(labels, torch.Tensor) or labels.shape != (b,):
            raise ValueError(f"labels must be a tensor of shape ({b},), got "
                             f"{tuple(getattr(labels, 'shape', ()))}")
        if labels.is_floating_point() or labels.is_complex():
            raise ValueError(f"labels must be integers, got {labels.dtype}")
    if not temperature > 0:   # NaN fails this comparison too
        raise ValueError(f"temperature must be > 0, got {temperature}")


def supcon_loss(features: torch.Tensor, labels: torch.Tensor | None = None,
                temperature: float = 0.1) -> torch.Tensor:
    """L_out averaged over the anchors that have at least one positive; labels None: SimCLR's case."""
    _validate(features, labels, temperature)
    b, v, d = features.shape
    z = F.normalize(features, dim=-1).reshape(b * v, d)                  # (BV, D), row s*V + view
    ids = labels if labels is not None else torch.arange(b, device=features.device)
    ids = ids.to(features.device).repeat_interleave(v)                     # (BV,) class of each row
    itself = torch.eye(b * v, dtype=torch.bool, device=features.device)    # (BV, BV)
    positive = (ids[:, None] == ids[None, :]) & ~itself                    # (BV, BV) same class, not self
    counts = positive.sum(dim=1)                                           # (BV,) |P(a)|
    has_positive = counts > 0                                              # (BV,)
    if not bool(has_positive.any()):
        raise ValueError("no anchor has a positive: every class appears in one row only "
                         "(labels None needs V >= 2 views)")
    logits = (z / temperature) @ z.T                                       # (BV, BV) cosine / t
    logits.fill_diagonal_(float("-inf"))                                   # A(a): every row but a
    log_denominator = torch.logsumexp(logits, dim=1)                       # (BV,)
    positive_logits = torch.where(positive, logits, 0.0).sum(dim=1)        # (BV,) no -inf * 0
    per_anchor = log_denominator - positive_logits / counts.clamp_min(1)   # (BV,) -mean_p log softmax
    return per_anchor[has_positive].mean()                                 # anchors with a positive
