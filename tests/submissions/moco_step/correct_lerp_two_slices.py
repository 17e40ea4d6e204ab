"""Correct: the update as a lerp (theta_k + (1 - m)(theta_q - theta_k)), the loss by hand with
logsumexp, the wrap-around as two slice writes.

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
    with torch.no_grad():
        for p_q, p_k in zip(encoder_q.parameters(), encoder_k.parameters()):
            p_k.lerp_(p_q, 1 - momentum)
        k = F.normalize(encoder_k(x_k), dim=1)
    q = F.normalize(encoder_q(x_q), dim=1)
    negatives = queue.clone()
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ negatives.T], dim=1) / temperature
    loss = (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()
    size, batch = queue.shape[0], len(k)
    first = min(batch, size - ptr)
    queue[ptr:ptr + first] = k[:first]
    queue[:batch - first] = k[first:]
    return loss, (ptr + batch) % size
