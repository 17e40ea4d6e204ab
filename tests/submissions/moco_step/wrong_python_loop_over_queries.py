"""Bug (speed): one logit row per query in a Python loop, each a pass over the whole queue.

expect: fail speed_vs_reference
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
            p_k.mul_(momentum).add_(p_q, alpha=1 - momentum)
    with torch.no_grad():
        k = F.normalize(encoder_k(x_k), dim=1)
    q = F.normalize(encoder_q(x_q), dim=1)
    negatives = queue.clone()
    losses = []
    for i in range(len(q)):
        row = torch.cat([(q[i] * k[i]).sum().view(1), negatives @ q[i]]) / temperature
        losses.append(torch.logsumexp(row, 0) - row[0])
    loss = torch.stack(losses).mean()
    rows = (ptr + torch.arange(len(k))) % queue.shape[0]
    queue[rows] = k
    return loss, (ptr + len(k)) % queue.shape[0]
