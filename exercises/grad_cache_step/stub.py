"""Exercise grad_cache_step: a large contrastive batch's exact gradient on a small memory budget (GradCache).

Read spec.md in this folder, then run `grade grad_cache_step`.
"""

import torch


def grad_cache_step(encoder: torch.nn.Module, x1: torch.Tensor, x2: torch.Tensor, loss_fn,
                    chunk_size: int) -> float:
    """Add to encoder's .grad the gradient of loss_fn(encoder(x1), encoder(x2)) over the whole
    batch, never running the encoder with grad enabled on more than chunk_size samples at once.
    Returns the loss as a Python float."""
    # TODO: embed both views without a graph; compute the loss and its gradient with respect to
    # the embeddings; then forward each chunk again with a graph and backpropagate its slice of
    # that gradient.
    raise NotImplementedError
