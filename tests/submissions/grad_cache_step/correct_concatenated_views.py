"""Correct: both views as one batch of 2N in both passes, the full no-grad pass at once, the
chunks' backward through one surrogate dot product each (as the GradCache code does).

expect: pass
"""

import torch


def _validate(x1, x2, chunk_size):
    if x1.shape[0] != x2.shape[0] or not chunk_size >= 1:
        raise ValueError("x1 and x2 need one batch size, chunk_size >= 1")


def grad_cache_step(encoder, x1, x2, loss_fn, chunk_size):
    _validate(x1, x2, chunk_size)
    x = torch.cat([x1, x2])
    with torch.no_grad():
        e = encoder(x)
    e.requires_grad_(True)
    n = len(x1)
    loss = loss_fn(e[:n], e[n:])
    loss.backward()
    for c, gc in zip(x.split(chunk_size), e.grad.split(chunk_size)):
        torch.dot(encoder(c).flatten(), gc.flatten()).backward()
    return float(loss)
