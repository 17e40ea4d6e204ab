"""Correct: the released MoCo code's way (facebookresearch/moco, moco/builder.py): param.data
arithmetic for the update, einsum logits against queue.clone().detach(), the enqueue by index.

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
    for param_q, param_k in zip(encoder_q.parameters(), encoder_k.parameters()):
        param_k.data = param_k.data * momentum + param_q.data * (1.0 - momentum)
    with torch.no_grad():
        k = F.normalize(encoder_k(x_k), dim=1)
    q = F.normalize(encoder_q(x_q), dim=1)
    l_pos = torch.einsum('nc,nc->n', [q, k]).unsqueeze(-1)
    l_neg = torch.einsum('nc,kc->nk', [q, queue.clone().detach()])
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature
    labels = torch.zeros(logits.shape[0], dtype=torch.long)
    loss = F.cross_entropy(logits, labels)
    size, batch = queue.shape[0], k.shape[0]
    for i in range(batch):
        queue[(ptr + i) % size] = k[i]
    return loss, (ptr + batch) % size
