"""Bug: no validation: chunk_size 0 or negative and batches of different sizes reach torch's own
errors (RuntimeError, IndexError) instead of a ValueError.

expect: fail rejects_bad_chunk_size_and_batches
"""

import torch


def grad_cache_step(encoder, x1, x2, loss_fn, chunk_size):
    with torch.no_grad():
        e1 = torch.cat([encoder(c) for c in x1.split(chunk_size)])
        e2 = torch.cat([encoder(c) for c in x2.split(chunk_size)])
    e1.requires_grad_(True)
    e2.requires_grad_(True)
    loss = loss_fn(e1, e2)
    g1, g2 = torch.autograd.grad(loss, [e1, e2])
    for x, g in ((x1, g1), (x2, g2)):
        for c, gc in zip(x.split(chunk_size), g.split(chunk_size)):
            encoder(c).backward(gc)
    return loss.item()
