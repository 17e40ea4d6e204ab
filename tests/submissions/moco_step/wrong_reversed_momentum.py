"""Bug: the momentum on the wrong side: theta_k <- (1 - m) theta_k + m theta_q, so the key encoder
all but copies the query encoder at m = 0.999 (the same as the right update only at m = 0.5).

expect: fail momentum_update_of_the_key_encoder, matches_reference
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
            p_k.mul_(1 - momentum).add_(p_q, alpha=momentum)
    with torch.no_grad():
        k = F.normalize(encoder_k(x_k), dim=1)
    q = F.normalize(encoder_q(x_q), dim=1)
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.clone().T], dim=1) / temperature
    loss = F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))
    rows = (ptr + torch.arange(len(k))) % queue.shape[0]
    queue[rows] = k
    return loss, (ptr + len(k)) % queue.shape[0]
