"""Bug (speed): ignores chunk_size and runs the second pass one sample at a time: within the memory
rule, but one forward and backward pass per sample.

expect: fail speed_vs_reference
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
    for x, g in ((x1, g1), (x2, g2)):
        for i in range(len(x)):
            encoder(x[i:i + 1]).backward(g[i:i + 1])
    return loss.item()
