"""gradcheck with the verdict in the parent: the learner's analytic input gradients
against central finite differences of the learner's own function, both computed
in the child, compared here (float64, small inputs).

The analytic gradients are of UPSTREAM * loss (backpropagated from grad_output =
UPSTREAM, not 1): a custom backward that ignores its incoming gradient is right
only at 1, and a loss inside a larger model never gets 1. The checks that compare
gradients with the reference's use the same UPSTREAM and divide it out (of_the_loss)."""

from __future__ import annotations

import secrets

import torch

from grader.compare import as_tensor
from grader.i18n import t


# Drawn per grading (not 1, negative, not public: a backward wrong only at a known value
# cannot be tuned to it); every gradient the learner sends is of UPSTREAM * loss.
UPSTREAM = -(1.25 + secrets.randbelow(1000) / 1000)


def upstream(dtype) -> torch.Tensor:
    """The grad_output to send with a gradient request (a 0-dim tensor of the loss's dtype)."""
    return torch.tensor(UPSTREAM, dtype=dtype)


def of_the_loss(grads):
    """The learner's gradients of UPSTREAM * loss (requested with grad_output = upstream(dtype))
    divided back into gradients of the loss, to compare with the reference's at grad_output 1
    under the usual tolerances. A backward that ignores its grad_output ends off by 1 / UPSTREAM."""
    if not isinstance(grads, (list, tuple)):
        return grads                     # the child's description of why there are none
    return [g / UPSTREAM if isinstance(g, torch.Tensor) else g for g in grads]


def finite_difference_check(learner, target, args, wrt, names, *, eps=1e-6, atol=1e-5,
                            rtol=1e-3, **kwargs):
    analytic = learner.call(target, *args, grad=list(wrt), grad_output=upstream(args[wrt[0]].dtype),
                            **kwargs).grads
    if isinstance(analytic, str):
        raise AssertionError(t("no_gradients", why=analytic))
    perturbed = []
    for i in wrt:
        for j in range(args[i].numel()):
            for sign in (1.0, -1.0):
                moved = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
                moved[i].view(-1)[j] += sign * eps
                perturbed.append(moved)
    outputs = learner.call_many(target, perturbed, **kwargs)
    values = torch.tensor([as_tensor(o, "output").double().item() for o in outputs], dtype=torch.float64)
    offset = 0
    for i, got, name in zip(wrt, analytic, names):
        count = args[i].numel()
        pairs = values[offset:offset + 2 * count].view(count, 2)
        offset += 2 * count
        numeric = ((pairs[:, 0] - pairs[:, 1]) / (2 * eps)).view_as(args[i])
        if got is None:
            raise AssertionError(t("gradient_none_fd", name=name, peak=f"{numeric.abs().max().item():.3g}"))
        got = got.double() / UPSTREAM
        if not torch.allclose(got, numeric, atol=atol, rtol=rtol):
            if torch.allclose(got * UPSTREAM, numeric, atol=atol, rtol=rtol) and numeric.abs().max() > atol:
                raise AssertionError(t("gradient_ignores_upstream", name=name, upstream=f"{UPSTREAM:.3f}"))
            diff = (got - numeric).abs()
            raise AssertionError(t("gradient_fd_differs", name=name, diff=f"{diff.max().item():.3g}",
                                   mean=f"{diff.mean().item():.3g}", atol=f"{atol:g}", rtol=f"{rtol:g}"))
