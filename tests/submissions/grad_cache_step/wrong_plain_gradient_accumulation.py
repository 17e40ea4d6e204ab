"""Bug: plain gradient accumulation: each chunk's own loss, backpropagated and averaged. Each
chunk sees only its own chunk's negatives, so neither the loss nor the gradient is the
full batch's (this is what GradCache exists to avoid).

expect: fail not_plain_gradient_accumulation, gradients_equal_the_full_batch_gradient, matches_reference
"""

import torch


def _validate(x1, x2, chunk_size):
    if x1.shape[0] != x2.shape[0] or not chunk_size >= 1:
        raise ValueError("x1 and x2 need one batch size, chunk_size >= 1")


def grad_cache_step(encoder, x1, x2, loss_fn, chunk_size):
    _validate(x1, x2, chunk_size)
    chunks = list(zip(x1.split(chunk_size), x2.split(chunk_size)))
    total = 0.0
    for a, b in chunks:
        loss = loss_fn(encoder(a), encoder(b)) / len(chunks)
        loss.backward()
        total += loss.item()
    return total
