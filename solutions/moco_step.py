"""Reference MoCo training step: momentum update of the key encoder, InfoNCE against a queue, enqueue.

He, Fan, Wu, Xie, Girshick. "Momentum Contrast for Unsupervised Visual Representation
Learning", CVPR 2020: eq. (1) (InfoNCE with a dot product of normalized features over a
temperature), eq. (2) (theta_k <- m theta_k + (1 - m) theta_q) and Algorithm 1, in the
order of the released code (facebookresearch/moco, moco/builder.py MoCo.forward):
momentum update, keys under no_grad, logits against the queue as it was, then enqueue.
"""

import torch
import torch.nn.functional as F


def _validate(queue, ptr, x_q, x_k, momentum, temperature):
    if not isinstance(queue, torch.Tensor) or queue.dim() != 2 or min(queue.shape) < 1:
        raise ValueError(f"queue must be a (K, D) tensor with K, D >= 1, got "
                         f"{tuple(queue.shape) if isinstance(queue, torch.Tensor) else type(queue).__name__}")
    if x_q.shape != x_k.shape or x_q.dim() < 2 or x_q.shape[0] < 1:
        raise ValueError(f"x_q and x_k must be two views of one batch (B, ...), got {tuple(x_q.shape)} "
                         f"and {tuple(x_k.shape)}")
    size, batch = queue.shape[0], x_q.shape[0]
    if batch > size:
        raise ValueError(f"a batch of {batch} keys does not fit a queue of {size} rows")
    if not 0 <= ptr < size:
        raise ValueError(f"ptr must be in [0, {size}), got {ptr}")
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


@torch.no_grad()
def momentum_update(encoder_q: torch.nn.Module, encoder_k: torch.nn.Module, momentum: float) -> None:
    """theta_k <- m theta_k + (1 - m) theta_q, parameters only (buffers follow their own encoder)."""
    for param_q, param_k in zip(encoder_q.parameters(), encoder_k.parameters()):
        param_k.mul_(momentum).add_(param_q, alpha=1 - momentum)


def moco_step(encoder_q, encoder_k, queue, ptr, x_q, x_k, momentum=0.999, temperature=0.07):
    """One MoCo step: returns (loss, new_ptr); updates encoder_k and queue in place."""
    _validate(queue, ptr, x_q, x_k, momentum, temperature)
    momentum_update(encoder_q, encoder_k, momentum)
    with torch.no_grad():
        k = F.normalize(encoder_k(x_k), dim=1)                        # (B, D) keys, no graph
    q = F.normalize(encoder_q(x_q), dim=1)                            # (B, D) queries
    positive = (q * k).sum(dim=1, keepdim=True)                       # (B, 1)
    # a copy: the enqueue below writes into queue, which the backward pass of q @ queue.T needs
    negative = q @ queue.clone().T                                    # (B, K)
    logits = torch.cat([positive, negative], dim=1) / temperature     # (B, 1 + K)
    target = torch.zeros(len(q), dtype=torch.long, device=q.device)   # the positive is column 0
    loss = F.cross_entropy(logits, target)
    size, batch = queue.shape[0], len(k)
    rows = torch.arange(ptr, ptr + batch, device=queue.device) % size  # (B,) wrapping around
    queue[rows] = k.to(queue.dtype)
    return loss, (ptr + batch) % size
