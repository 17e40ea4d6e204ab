"""Bug: the first pass keeps a graph (no torch.no_grad()) over the whole batch and then detaches
the embeddings: the values and gradients are right, but the memory GradCache saves is spent.

expect: fail never_forwards_more_than_chunk_size_with_grad
"""

import torch


def _validate(x1, x2, chunk_size):
    if x1.shape[0] != x2.shape[0] or not chunk_size >= 1:
        raise ValueError("x1 and x2 need one batch size, chunk_size >= 1")


def grad_cache_step(encoder, x1, x2, loss_fn, chunk_size):
    _validate(x1, x2, chunk_size)
    e1, e2 = encoder(x1).detach().requires_grad_(True), encoder(x2).detach().requires_grad_(True)
    loss = loss_fn(e1, e2)
    g1, g2 = torch.autograd.grad(loss, [e1, e2])
    for x, g in ((x1, g1), (x2, g2)):
        for c, gc in zip(x.split(chunk_size), g.split(chunk_size)):
            encoder(c).backward(gc)
    return loss.item()
