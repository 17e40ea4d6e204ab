"""The numbers and closed forms that exercises/clip_loss/spec.md states (its worked example
included), recomputed with the reference."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import clip_loss as checks
from solutions.clip_loss import clip_loss, siglip_loss

D = torch.float64


def _worked():
    image, text, logit_scale, logit_bias = checks.worked_example()
    return image, text, torch.tensor(logit_scale, dtype=D), torch.tensor(logit_bias, dtype=D)


def test_worked_example_intermediate_numbers():
    image, text, logit_scale, logit_bias = _worked()
    assert logit_scale.exp().item() == pytest.approx(2.0)
    cos = F.normalize(image, dim=1) @ F.normalize(text, dim=1).T
    r = math.sqrt(0.5)
    assert torch.allclose(cos, torch.tensor([[r, 0.0], [r, 1.0]], dtype=D))
    logits = 2 * cos
    rows = torch.logsumexp(logits, 1) - logits.diagonal()
    columns = torch.logsumexp(logits, 0) - logits.diagonal()
    assert rows.tolist() == pytest.approx([0.21762, 0.44255], abs=5e-6)
    assert columns.tolist() == pytest.approx([0.69315, 0.12693], abs=5e-6)
    signed = (2 * torch.eye(2, dtype=D) - 1) * (logits - 1)
    assert signed.flatten().tolist() == pytest.approx([0.41421, 1.0, -0.41421, 1.0], abs=5e-6)
    terms = F.softplus(-signed)
    assert terms.flatten().tolist() == pytest.approx([0.50734, 0.31326, 0.92155, 0.31326], abs=5e-6)
    assert terms.sum().item() == pytest.approx(2.05541, abs=5e-6)


def test_worked_example_results():
    image, text, logit_scale, logit_bias = _worked()
    assert clip_loss(image, text, logit_scale).item() == pytest.approx(checks.WORKED_CLIP, abs=1e-10)
    assert siglip_loss(image, text, logit_scale, logit_bias).item() == pytest.approx(checks.WORKED_SIGLIP, abs=1e-10)
    assert checks.WORKED_CLIP == pytest.approx(0.37006, abs=5e-6)
    assert checks.WORKED_SIGLIP == pytest.approx(1.02770, abs=5e-6)


def test_single_pair():
    image, text = torch.tensor([[1.0, 2.0]], dtype=D), torch.tensor([[-3.0, 0.5]], dtype=D)
    s, b = torch.tensor(1.3, dtype=D), torch.tensor(-4.0, dtype=D)
    assert clip_loss(image, text, s).item() == 0.0
    cos = F.cosine_similarity(image, text).item()
    assert siglip_loss(image, text, s, b).item() == pytest.approx(math.log1p(math.exp(-(math.exp(1.3) * cos - 4))))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 12), d=st.integers(1, 16), logit_scale=st.floats(-2.0, math.log(100.0)),
       logit_bias=st.floats(-12.0, 12.0), seed=st.integers(0, 2**31 - 1))
def test_scale_gradient_formula(n, d, logit_scale, logit_bias, seed):
    # dL/ds = t * sum_ij g_ij cos_ij; for CLIP g = (P + Q - 2I) / (2N)
    gen = torch.Generator().manual_seed(seed)
    image, text = torch.randn(n, d, generator=gen, dtype=D), torch.randn(n, d, generator=gen, dtype=D)
    s = torch.tensor(logit_scale, dtype=D, requires_grad=True)
    (got,) = torch.autograd.grad(clip_loss(image, text, s), s)
    cos = F.normalize(image, dim=1) @ F.normalize(text, dim=1).T
    t = math.exp(logit_scale)
    p, q = torch.softmax(t * cos, 1), torch.softmax(t * cos, 0)
    g = (p + q - 2 * torch.eye(n, dtype=D)) / (2 * n)
    assert got.item() == pytest.approx((t * (g * cos).sum()).item(), rel=1e-9, abs=1e-12)
    b = torch.tensor(logit_bias, dtype=D, requires_grad=True)
    s = s.detach().requires_grad_(True)
    gs, gb = torch.autograd.grad(siglip_loss(image, text, s, b), [s, b])
    z = 2 * torch.eye(n, dtype=D) - 1
    g = -z * torch.sigmoid(-z * (t * cos + logit_bias)) / n
    assert gs.item() == pytest.approx((t * (g * cos).sum()).item(), rel=1e-9, abs=1e-12)
    assert gb.item() == pytest.approx(g.sum().item(), rel=1e-9, abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 8), cosine=st.floats(-1.0, 1.0), logit_scale=st.floats(-2.0, math.log(100.0)),
       logit_bias=st.floats(-12.0, 12.0), seed=st.integers(0, 2**31 - 1))
def test_closed_forms_on_orthonormal_features(n, cosine, logit_scale, logit_bias, seed):
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(2 * n, 2 * n, generator=gen, dtype=D))
    u, v = basis[:n], basis[n:]
    text = cosine * u + math.sqrt(1 - cosine**2) * v
    t = math.exp(logit_scale)
    s, b = torch.tensor(logit_scale, dtype=D), torch.tensor(logit_bias, dtype=D)
    assert clip_loss(u, text, s).item() == pytest.approx(math.log1p((n - 1) * math.exp(-t * cosine)),
                                                         rel=1e-9, abs=1e-12)
    want = F.softplus(torch.tensor(-(t * cosine + logit_bias), dtype=D)) + (n - 1) * F.softplus(b)
    assert siglip_loss(u, text, s, b).item() == pytest.approx(want.item(), rel=1e-9, abs=1e-12)


def test_symmetric_and_siglip_is_n_times_the_pair_mean():
    gen = torch.Generator().manual_seed(3)
    image, text = torch.randn(7, 5, generator=gen, dtype=D), torch.randn(7, 5, generator=gen, dtype=D)
    s, b = torch.tensor(2.0, dtype=D), torch.tensor(-3.0, dtype=D)
    assert clip_loss(image, text, s).item() == pytest.approx(clip_loss(text, image, s).item(), rel=1e-12)
    assert siglip_loss(image, text, s, b).item() == pytest.approx(siglip_loss(text, image, s, b).item(), rel=1e-12)
    logits = s.exp() * F.normalize(image, dim=1) @ F.normalize(text, dim=1).T + b
    pair_mean = -F.logsigmoid((2 * torch.eye(7, dtype=D) - 1) * logits).mean()
    assert siglip_loss(image, text, s, b).item() == pytest.approx(7 * pair_mean.item(), rel=1e-12)


def test_float32_stable_at_scale_100():
    gen = torch.Generator().manual_seed(22)
    image = torch.randn(16, 32, generator=gen)
    text = -image
    s = torch.tensor(math.log(100.0), requires_grad=True)
    b = torch.tensor(-10.0, requires_grad=True)
    for loss in (clip_loss(image, text, s), siglip_loss(image, text, s, b)):
        assert torch.isfinite(loss)
        assert all(torch.isfinite(g).all() for g in torch.autograd.grad(loss, [s]))
    # what the spec says of the naive forms
    assert not torch.isfinite(torch.log(torch.sigmoid(torch.tensor(-110.0)))).item()
    assert not torch.isfinite(torch.tensor(100.0).exp()).item()


def test_scale_gradient_noise_bound_covers_correct_formulations():
    """The spec's 4e-4 and 'at most 10 ulps': the float32 gradient of logit_scale of two correct
    formulations against the exact float64 one, on near-identical rows at a scale of 100."""
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(1, 64, generator=gen)
    image, text = (base + 1e-3 * torch.randn(32, 64, generator=gen) for _ in range(2))

    def by_logsumexp(i, t, s):
        logits = s.exp() * (i / i.norm(dim=1, keepdim=True)) @ (t / t.norm(dim=1, keepdim=True)).T
        return (logits.logsumexp(1).sum() + logits.logsumexp(0).sum() - 2 * logits.diagonal().sum()) / (2 * len(i))

    s64 = torch.tensor(math.log(100.0), dtype=D, requires_grad=True)
    (exact,) = torch.autograd.grad(clip_loss(image.double(), text.double(), s64), s64)
    args = checks.with_params("clip_loss", image, text, math.log(100.0))
    bound = checks.rounding_noise("clip_loss", args)[2] / checks.LOGIT_SCALE_NOISE_ULPS
    errors = []
    for fn in (clip_loss, by_logsumexp):
        s = torch.tensor(math.log(100.0), requires_grad=True)
        (g,) = torch.autograd.grad(fn(image, text, s), s)
        errors.append(abs(g.double().item() - exact.item()))
    assert max(errors) > 1e-5                       # the cancellation is real
    assert max(errors) < 10 * bound.item() < checks.LOGIT_SCALE_NOISE_ULPS * bound.item()
