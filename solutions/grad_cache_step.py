"""Reference GradCache step: a large batch's exact gradient with the encoder's graph kept for one chunk at a time.

Gao, Zhang, Han, Callan. "Scaling Deep Contrastive Learning Batch Size under Memory
Limited Setup" (GradCache), RepL4NLP 2021, Section 3: (1) representations of the whole
batch without a graph, (2) the loss and its gradient with respect to the representations
(the "representation gradient cache"), (3) each sub-batch forwarded again with a graph and
backpropagated from its cached gradient. The encoder must compute each sample
independently of the others (no batch norm in training mode, no dropout without
replaying its random state, as the released code's RandContext does).
"""

import torch


def _validate(x1, x2, chunk_size):
    if not (isinstance(x1, torch.Tensor) and isinstance(x2, torch.Tensor)) or x1.dim() < 1 or x2.dim() < 1:
        raise ValueError("x1 and x2 must be tensors with a batch dimension")
    if x1.shape[0] != x2.shape[0] or x1.shape[0] < 1:
        raise ValueError(f"x1 and x2 must hold the same number (>= 1) of samples, got {x1.shape[0]} and {x2.shape[0]}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")


def grad_cache_step(encoder: torch.nn.Module, x1: torch.Tensor, x2: torch.Tensor, loss_fn,
                    chunk_size: int) -> float:
    """Accumulate into encoder's .grad the gradient of loss_fn(encoder(x1), encoder(x2)) over the
    whole batch, running the encoder with a graph on at most chunk_size samples at a time."""
    _validate(x1, x2, chunk_size)
    views = (x1, x2)
    with torch.no_grad():                                              # (1) no graph, any batch size
        embeddings = [torch.cat([encoder(chunk) for chunk in x.split(chunk_size)]) for x in views]  # 2 x (N, D)
    cached = [e.requires_grad_(True) for e in embeddings]              # leaves: the loss's inputs
    loss = loss_fn(*cached)                                            # (2) the full batch's loss
    grads = torch.autograd.grad(loss, cached)                          # 2 x (N, D) dL/de
    for x, grad in zip(views, grads):                                  # (3) chunk by chunk, with a graph
        for chunk, chunk_grad in zip(x.split(chunk_size), grad.split(chunk_size)):
            encoder(chunk).backward(chunk_grad)                        # adds to .grad, as backward() does
    return loss.item()
