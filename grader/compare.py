"""Named comparisons used by every checks module: shapes first, then values.

Tolerances live in one table, by dtype; every failure reports the max and mean
absolute difference so a learner can tell a rounding issue from a wrong formula.
"""

from __future__ import annotations

import torch

from grader.i18n import t
from grader.wire import Received

# (rtol, atol) for values; gradients use atol relative to the largest reference gradient.
TOLERANCES = {
    torch.float64: (1e-7, 1e-9),
    torch.float32: (2e-4, 1e-5),
    torch.bfloat16: (2e-2, 2e-2),
    torch.float16: (5e-3, 5e-3),
}
GRAD_RTOL_SCALE = {torch.float64: 1e-6, torch.float32: 1e-3, torch.bfloat16: 5e-2, torch.float16: 1e-2}
# gradients that are zero in exact arithmetic come out as rounding noise of this size
GRAD_ATOL_FLOOR = {torch.float64: 1e-10, torch.float32: 1e-6, torch.bfloat16: 1e-2, torch.float16: 1e-3}
# relative rounding error per unit of noise_scale (e.g. per 1/temperature of a logit's size)
GRAD_NOISE_PER_UNIT = {torch.float64: 1e-13, torch.float32: 5e-5, torch.bfloat16: 5e-3, torch.float16: 5e-4}
# backward through x / |x| loses about this many ulps of |dL/d(x/|x|)| / |x| (cancellation
# between the gradient and its radial part; exact zero when D = 1)
NORMALIZE_NOISE_ULPS = 64


def normalize_backward_noise(upstream_norms: torch.Tensor, rows: torch.Tensor, dtype) -> torch.Tensor:
    """(R, 1) extra gradient tolerance for rows that went through F.normalize: upstream_norms
    (R,) are |dL/d(normalized row)| (exact, float64), rows (R, D) the inputs."""
    eps = torch.finfo(dtype).eps if dtype.is_floating_point else 0.0
    return (NORMALIZE_NOISE_ULPS * eps * upstream_norms.double() / rows.double().norm(dim=1).clamp_min(1e-300))[:, None]


class Mismatch(AssertionError):
    """A failed comparison, structured as check50's failures are: what was compared, what was
    expected and what came back (as text: the value, or the entry that differs most), and a
    hint where the check has one. str() is the whole message; the JSON report carries the
    parts (grader/results.py)."""

    def __init__(self, message: str, *, what: str, expected: str = "", got: str = "", hint: str = ""):
        super().__init__(f"{message}; {hint}" if hint else message)
        self.what, self.expected, self.got, self.hint = what, expected, got, hint


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    return TOLERANCES.get(dtype, TOLERANCES[torch.float32])


def as_tensor(value, what: str) -> torch.Tensor:
    if isinstance(value, Received):
        return value.tensor
    if isinstance(value, torch.Tensor):
        return value
    kind = getattr(value, "type", type(value).__name__)
    raise AssertionError(t("expected_tensor", what=what, kind=kind))


def assert_shape(actual, expected_shape, what="output"):
    value = as_tensor(actual, what)
    if tuple(value.shape) != tuple(expected_shape):
        raise AssertionError(t("expected_shape", what=what, expected=tuple(expected_shape), got=tuple(value.shape)))


def worst_entry(actual: torch.Tensor, expected: torch.Tensor) -> tuple[str, str, str] | None:
    """(where, expected there, got there) at the entry that differs most; None when empty."""
    diff = (actual.double() - expected.double()).abs()
    if diff.numel() == 0:
        return None
    worst = diff.nan_to_num(nan=float("inf")).argmax().item()
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), diff.shape))
    return (f"[{', '.join(map(str, index))}]", f"{expected.double().reshape(-1)[worst].item():.8g}",
            f"{actual.double().reshape(-1)[worst].item():.8g}")


def describe_diff(actual: torch.Tensor, expected: torch.Tensor) -> str:
    """Where the two differ most, with both values there, and the mean difference."""
    entry = worst_entry(actual, expected)
    if entry is None:
        return "empty"
    diff = (actual.double() - expected.double()).abs()
    return t("largest_difference", where=entry[0], expected=entry[1], got=entry[2],
             diff=f"{diff.max().item():.3g}" if not diff.isnan().any() else "nan", mean=f"{diff.mean().item():.3g}")


def assert_close(actual, expected, what="output", dtype=None, rtol=None, atol=None):
    """Shape, finiteness, then elementwise |a - e| <= atol + rtol * |e|."""
    a = as_tensor(actual, what)
    e = expected.detach().cpu()
    assert_shape(a, e.shape, what)
    d_rtol, d_atol = tolerance(dtype or e.dtype)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    a64, e64 = a.double(), e.double()
    if not torch.isfinite(a64).all() and torch.isfinite(e64).all():
        bad = (~torch.isfinite(a64)).sum().item()
        raise AssertionError(t("non_finite", what=what, count=bad))
    if isinstance(atol, torch.Tensor):   # an elementwise tolerance (see assert_grads_close's extra_atol)
        limit = atol.double() + rtol * e64.abs()
        close = ((a64 - e64).abs() <= limit) | (a64.isnan() & e64.isnan()) | (a64 == e64)
        ok = bool(close.all())
    else:
        ok = torch.allclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True)
    if not ok:
        if isinstance(atol, torch.Tensor):
            atol = float(atol.max()) if atol.numel() else 0.0
        if a.numel() == 1:
            parts = (f"{e64.item():.8g}", f"{a64.item():.8g}")
            got = t("expected_got", expected=parts[0], got=parts[1])
        else:
            where, *values = worst_entry(a64, e64)
            parts = (f"{values[0]} at {where}", f"{values[1]} at {where}")
            got = describe_diff(a64, e64)
        raise Mismatch(t("values_differ", what=what, got=got, rtol=f"{rtol:g}", atol=f"{atol:g}"),
                       what=what, expected=parts[0], got=parts[1])


def assert_grads_close(actual_grads, expected_grads, names, dtype, noise_scale=1.0, extra_atol=None):
    """Gradients: atol scales with the largest reference gradient, so tiny 1/N grads compare fairly.

    noise_scale multiplies the rounding-noise floor, e.g. 1/temperature for losses whose
    logits are divided by a temperature (their rounding noise grows with 1/t).
    extra_atol: per input, None or a tensor broadcastable to its gradient that adds to atol
    where rounding noise is known to be amplified (a short row through a normalization).
    """
    if isinstance(actual_grads, str):
        raise AssertionError(t("no_gradients", why=actual_grads))
    scale = GRAD_RTOL_SCALE.get(dtype, 1e-3)
    extras = list(extra_atol) if extra_atol is not None else [None] * len(names)
    if len(actual_grads) != len(names):
        raise AssertionError(t("gradient_count", count=len(names), names=", ".join(names), got=len(actual_grads)))
    for got, want, name, extra in zip(actual_grads, expected_grads, names, extras):
        if want is None:
            continue
        if got is None:
            raise AssertionError(t("gradient_none", name=name))
        want = want.detach().cpu()
        peak = want.abs().max().item() if want.numel() else 0.0
        rtol, _ = tolerance(dtype)
        atol = (peak * (scale + noise_scale * GRAD_NOISE_PER_UNIT.get(dtype, 5e-5))
                + noise_scale * GRAD_ATOL_FLOOR.get(dtype, 1e-6))
        if extra is not None:
            atol = atol + extra.double().expand(want.shape)
        assert_close(got, want, what=t("gradient_of", name=name), dtype=dtype, rtol=max(rtol, scale), atol=atol)


def assert_scalar_like(output, dtype, device, what="output"):
    """The loss contract: a 0-dim tensor with the inputs' dtype and device."""
    if not isinstance(output, Received):
        kind = getattr(output, "type", type(output).__name__)
        raise AssertionError(t("expected_0dim_tensor", what=what, kind=kind))
    value = output.tensor
    if value.dim() != 0:
        raise AssertionError(t("expected_0dim", what=what, shape=tuple(value.shape)))
    if value.dtype != dtype:
        raise AssertionError(t("expected_dtype", what=what, expected=dtype, got=value.dtype))
    if output.device != torch.device(device).type:
        raise AssertionError(t("expected_device", what=what, expected=device, got=output.device))
