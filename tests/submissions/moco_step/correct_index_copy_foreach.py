"""Correct: torch._foreach_mul_ / _foreach_add_ for the update, the negatives from the queue as it
was (one copy), index_copy_ for the enqueue, the temperature folded into the queries.

expect: pass
"""

import torch
import torch.nn.functional as F


def _validate(queue, ptr, x_q, x_k, momentum, temperature):
    if queue.dim() != 2 or x_q.shape != x_k.shape or x_q.shape[0] > queue.shape[0]:
        raise ValueError("bad shapes")
    if not 0 <= ptr < queue.shape[0] or not 0 <= momentum <= 1 or not temperature > 0:
        raise ValueError("bad pointer or hyperparameter")


def moco_step(encoder_q, encoder_k, queue, ptr, x_q, x_k, momentum=0.999, temperature=0.07):
    _validate(queue, ptr, x_q, x_k, momentum, temperature)
    params_q, params_k = list(encoder_q.parameters()), list(encoder_k.parameters())
    with torch.no_grad():
        torch._foreach_mul_(params_k, momentum)
        torch._foreach_add_(params_k, params_q, alpha=1 - momentum)
        k = F.normalize(encoder_k(x_k), dim=1)
    q = F.normalize(encoder_q(x_q), dim=1) / temperature
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.clone().T], dim=1)
    loss = F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))
    rows = torch.arange(ptr, ptr + len(k)) % queue.shape[0]
    queue.index_copy_(0, rows, k)
    return loss, int((ptr + len(k)) % queue.shape[0])
