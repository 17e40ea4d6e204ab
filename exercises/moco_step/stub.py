"""Exercise moco_step: implement one training step of MoCo (momentum encoder + queue of negatives).

Read spec.md in this folder, then run `grade moco_step`.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will probably want it)


def moco_step(encoder_q: torch.nn.Module, encoder_k: torch.nn.Module, queue: torch.Tensor, ptr: int,
              x_q: torch.Tensor, x_k: torch.Tensor, momentum: float = 0.999,
              temperature: float = 0.07) -> tuple[torch.Tensor, int]:
    """Update encoder_k by momentum, compute the InfoNCE loss of the queries against their keys and
    the queue (K, D), write the keys into the queue from row ptr (wrapping around), and return
    (loss, new_ptr)."""
    # TODO: validate; under no_grad update encoder_k's parameters and compute the normalized keys;
    # compute the normalized queries, the logits [positive | queue] / temperature and the loss;
    # enqueue the keys in place; return (loss, (ptr + B) % K).
    raise NotImplementedError
