"""A hand-written backward (a custom torch.autograd.Function) that multiplies by the incoming
grad_output only in float64, the precision of a typical gradcheck; in float32 it returns
dL/dz as if the loss were backpropagated from 1.

A grader that sends a scaled grad_output only in its float64 finite-difference check passes
this; the float32 gradients are compared with the reference's under the same scaled
grad_output.
expect: fail gradients_match_reference, low_temperature_float32
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
        d_logits /= rows * ctx.temperature                       # dL/dlogits
        if grad_output.dtype == torch.float64:                   # left out in float32
            d_logits *= grad_output
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
