"""Correct: torch.autograd.backward with the cached gradients as grad_tensors, one chunk of each
view at a time.

expect: pass
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
    for c1, c2, h1, h2 in zip(x1.split(chunk_size), x2.split(chunk_size), g1.split(chunk_size),
                              g2.split(chunk_size)):
        torch.autograd.backward([encoder(c1)], [h1])
        torch.autograd.backward([encoder(c2)], [h2])
    return loss.item()
