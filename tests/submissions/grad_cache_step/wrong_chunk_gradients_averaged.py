"""Bug: divides each chunk's cached gradient by the number of chunks, as if averaging accumulated
losses; the cached gradient is already the full loss's.

expect: fail gradients_equal_the_full_batch_gradient, not_plain_gradient_accumulation
"""

import torch


def _validate(x1, x2, chunk_size):
    if x1.shape[0] != x2.shape[0] or not chunk_size >= 1:
        raise ValueError("x1 and x2 need one batch size, chunk_size >= 1")


def grad_cache_step(encoder, x1, x2, loss_fn, chunk_size):
    _validate(x1, x2, chunk_size)
    with torch.no_grad():
        e1 = torch.cat([encoder(c) for c in x1.split(chunk_size)])
        e2 = torch.cat([encoder(c) for c in x2.split(chunk_size)])
    e1.requires_grad_(True)
    e2.requires_grad_(True)
    loss = loss_fn(e1, e2)
    g1, g2 = torch.autograd.grad(loss, [e1, e2])
    chunks = len(x1.split(chunk_size))
    for x, g in ((x1, g1), (x2, g2)):
        for c, gc in zip(x.split(chunk_size), g.split(chunk_size)):
            encoder(c).backward(gc / chunks)
    return loss.item()
