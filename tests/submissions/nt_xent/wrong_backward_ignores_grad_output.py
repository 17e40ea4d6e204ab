"""A hand-written backward (a custom torch.autograd.Function, as a candidate might write
for speed) that returns dL/dz1 and dL/dz2 without multiplying by the incoming grad_output.

Its values are right, and so are its gradients when the loss is backpropagated from 1,
as in `loss.backward()`. Inside a model the loss is scaled (a loss weight, AMP's loss
scaling, a sum of losses) and the gradient must scale with it; here it does not.
expect: fail gradcheck_float64
"""

import torch
import torch.nn.functional as F


class _NTXent(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z1, z2, temperature):
        n = z1.shape[0]
        norms = torch.cat([z1, z2]).norm(dim=1, keepdim=True).clamp_min(1e-12)   # (2N, 1)
        units = torch.cat([z1, z2]) / norms                                        # (2N, D)
        logits = units @ units.T / temperature                                     # (2N, 2N)
        logits.fill_diagonal_(float("-inf"))
        partner = torch.arange(2 * n, device=z1.device).roll(n)
        probs = logits.softmax(dim=1)
        loss = F.cross_entropy(logits, partner)
        ctx.save_for_backward(units, norms, probs, partner)
        ctx.temperature = temperature
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        units, norms, probs, partner = ctx.saved_tensors
        rows = units.shape[0]
        d_logits = probs.clone()
        d_logits[torch.arange(rows), partner] -= 1.0
        d_logits /= rows * ctx.temperature                       # dL/dlogits (grad_output left out)
        d_units = (d_logits + d_logits.T) @ units                # (2N, D)
        radial = (d_units * units).sum(dim=1, keepdim=True)
        d_z = (d_units - radial * units) / norms
        n = rows // 2
        return d_z[:n], d_z[n:], None


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError("z1 and z2 must both be (N, D) with the same shape")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    return _NTXent.apply(z1, z2, temperature)
