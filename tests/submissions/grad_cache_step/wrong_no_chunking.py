"""Bug: the plain full-batch step, loss_fn(encoder(x1), encoder(x2)).backward(): the right gradient
with the whole batch's activations in memory.

expect: fail never_forwards_more_than_chunk_size_with_grad
"""

import torch


def _validate(x1, x2, chunk_size):
    if x1.shape[0] != x2.shape[0] or not chunk_size >= 1:
        raise ValueError("x1 and x2 need one batch size, chunk_size >= 1")


def grad_cache_step(encoder, x1, x2, loss_fn, chunk_size):
    _validate(x1, x2, chunk_size)
    loss = loss_fn(encoder(x1), encoder(x2))
    loss.backward()
    return loss.item()
