"""Plain-text descriptions of what the grader sent to the learner: the failing input of a report.

The parent records every call it sends (sandbox.SentCall); a failed check shows the calls of
its failing example, named by the reference's signature, so the learner sees the input
without depending on how hypothesis words its own notes.
"""

from __future__ import annotations

import inspect

import torch

SMALL_TENSOR = 24          # entries shown in full up to this many
CALLS_SHOWN = 3


def describe_value(value) -> str:
    if isinstance(value, torch.Tensor):
        return describe_tensor(value)
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"{type(value).__name__} of {len(value)} items: {value[:8]!r}..."
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def describe_tensor(t: torch.Tensor) -> str:
    dtype = str(t.dtype).removeprefix("torch.")
    shape = "(" + ", ".join(map(str, t.shape)) + ("," if t.dim() == 1 else "") + ")"
    if t.numel() <= SMALL_TENSOR:
        return f"tensor({_values(t)}, dtype={dtype})  # shape {shape}"
    if t.is_complex():
        return f"tensor of shape {shape}, dtype={dtype}"
    x = t.detach().double()
    stats = f"min {x.min().item():.4g}, max {x.max().item():.4g}, mean {x.mean().item():.4g}"
    if t.is_floating_point() and t.numel() > 1:
        stats += f", std {x.std().item():.4g}"
    return f"tensor of shape {shape}, dtype={dtype}: {stats}"


def _values(t: torch.Tensor) -> str:
    if t.is_floating_point():
        return repr(_round(t.detach().double().tolist()))
    return repr(t.tolist())


def _round(v):
    if isinstance(v, list):
        return [_round(x) for x in v]
    return float(f"{v:.6g}")


def _named(fn, args, kwargs) -> list[tuple[str | None, object]]:
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        return [(None, a) for a in args] + list(kwargs.items())
    return list(bound.arguments.items())


def describe_call(sent, reference=None) -> str:
    """'nt_xent(z1=tensor(...), z2=..., temperature=0.5)', argument names from the reference."""
    fn = getattr(reference, sent.target, None) if reference is not None else None
    parts = [f"{name}={describe_value(value)}" if name else describe_value(value)
             for name, value in _named(fn, sent.args, sent.kwargs)]
    parts += [f"{name}=<the grader's {name}>" for name in sent.handles]
    call = f"{sent.target}({', '.join(parts)})"
    if sent.count > 1:
        call += f"  # and {sent.count - 1} more calls with small changes (finite differences)"
    return call


def describe_input(sent_calls, reference=None) -> str:
    """The calls of a failing example, the last few, one per line."""
    calls = list(sent_calls)[-CALLS_SHOWN:]
    if not calls:
        return ""
    if len(calls) == 1:
        return describe_call(calls[0], reference)
    return "\n".join(f"{i}. {describe_call(c, reference)}" for i, c in enumerate(calls, 1))
