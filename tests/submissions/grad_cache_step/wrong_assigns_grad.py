"""Bug: sums the chunks' parameter gradients itself (torch.autograd.grad) and assigns p.grad = total,
replacing what .grad held instead of adding to it as backward() does.

expect: fail grad_adds_to_what_was_there
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
    params = list(encoder.parameters())
    total = [torch.zeros_like(p) for p in params]
    for x, g in ((x1, g1), (x2, g2)):
        for c, gc in zip(x.split(chunk_size), g.split(chunk_size)):
            for t, d in zip(total, torch.autograd.grad(encoder(c), params, gc)):
                t += d
    for p, t in zip(params, total):
        p.grad = t
    return loss.item()
