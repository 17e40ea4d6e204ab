"""Bug: calls loss_fn(e2, e1): the grader's loss is InfoNCE from each row of its first argument to
the rows of its second, not symmetric, so this is another loss.

expect: fail matches_reference, gradients_equal_the_full_batch_gradient
"""

import torch


def _validate(x1, x2, chunk_size):
    if x1.shape[0] != x2.shape[0] or not chunk_size >= 1:
        raise ValueError("x1 and x2 need one batch size, chunk_size >= 1")


def grad_cache_step(encoder, x1, x2, loss_fn, chunk_size):
    _validate(x1, x2, chunk_size)
    with torch.no_grad():
        e1, e2 = encoder(x1), encoder(x2)
    e1.requires_grad_(True)
    e2.requires_grad_(True)
    loss = loss_fn(e2, e1)
    g1, g2 = torch.autograd.grad(loss, [e1, e2])
    for x, g in ((x1, g1), (x2, g2)):
        for c, gc in zip(x.split(chunk_size), g.split(chunk_size)):
            encoder(c).backward(gc)
    return loss.item()
