"""The fused and block-wise NT-Xent of solutions/nt_xent_fast.py against the readable reference."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from solutions.nt_xent import nt_xent as plain
from solutions.nt_xent_fast import nt_xent, nt_xent_blockwise, nt_xent_fused

TEMPERATURES = st.one_of(st.sampled_from([0.01, 0.05, 0.1, 0.5, 1.0, 10.0]),
                         st.floats(min_value=0.01, max_value=10.0))
TOL = {torch.float64: dict(rtol=1e-9, atol=1e-10), torch.float32: dict(rtol=1e-4, atol=1e-5)}


def views(n, d, dtype=torch.float64, seed=0, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, d, generator=gen, dtype=torch.float64) * scale).to(dtype) for _ in range(2)]


def value_and_grads(fn, z1, z2, *args, **kwargs):
    a, b = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    loss = fn(a, b, *args, **kwargs)
    return (loss.detach(), *torch.autograd.grad(loss, [a, b]))


def assert_agree(got, want, dtype, temperature=1.0):
    tol = TOL[dtype]
    loss, *grads = got
    want_loss, *want_grads = want
    torch.testing.assert_close(loss, want_loss, **tol)
    scale = max(1.0, 1.0 / temperature)            # gradients carry a 1/t factor
    for g, w in zip(grads, want_grads):
        torch.testing.assert_close(g, w, rtol=tol["rtol"] * scale, atol=tol["atol"] * scale)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 24), d=st.integers(1, 32), temperature=TEMPERATURES,
       dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 2**31 - 1),
       block=st.integers(1, 60))
def test_fused_and_blockwise_match_the_reference(n, d, temperature, dtype, seed, block):
    z1, z2 = views(n, d, dtype, seed)
    want = value_and_grads(plain, z1, z2, temperature)
    assert_agree(value_and_grads(nt_xent_fused, z1, z2, temperature), want, dtype, temperature)
    assert_agree(value_and_grads(nt_xent_blockwise, z1, z2, temperature, block_size=block), want, dtype,
                 temperature)


@pytest.mark.parametrize("block", [1, 3, 7, 10, 11, 1024])
def test_block_sizes_that_do_not_divide_2n(block):
    z1, z2 = views(5, 6, torch.float64, seed=3)               # 2N = 10
    want = value_and_grads(plain, z1, z2, 0.3)
    assert_agree(value_and_grads(nt_xent_blockwise, z1, z2, 0.3, block_size=block), want, torch.float64)


@pytest.mark.parametrize("fn", [nt_xent_fused, lambda a, b, t: nt_xent_blockwise(a, b, t, block_size=1)])
def test_single_pair_has_zero_loss_and_gradient(fn):
    z1, z2 = views(1, 4, torch.float64, seed=1)
    loss, g1, g2 = value_and_grads(fn, z1, z2, 0.1)
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    assert g1.abs().max().item() < 1e-12 and g2.abs().max().item() < 1e-12


@pytest.mark.parametrize("temperature", [0.5, 0.02, 0.001])        # 0.001: the row-max shift path
@pytest.mark.parametrize("fn", [nt_xent_fused,
                                lambda a, b, t: nt_xent_blockwise(a, b, t, block_size=3),
                                lambda a, b, t: nt_xent(a, b, t, block_size=2)])
def test_gradcheck_float64(fn, temperature):
    z1, z2 = (z.requires_grad_(True) for z in views(4, 3, torch.float64, seed=7))
    assert torch.autograd.gradcheck(lambda a, b: fn(a, b, temperature), (z1, z2), eps=1e-6, atol=1e-5)


def test_low_temperature_float32_stays_finite_and_close():
    # at t = 0.01 the logits reach +-100: exp overflows float32 without a shift
    z1, z2 = views(32, 16, torch.float32, seed=3)
    want = value_and_grads(plain, z1, z2, 0.01)
    for fn, kw in ((nt_xent_fused, {}), (nt_xent_blockwise, {"block_size": 5})):
        got = value_and_grads(fn, z1, z2, 0.01, **kw)
        assert all(torch.isfinite(x).all() for x in got)
        assert_agree(got, want, torch.float32, 0.01)


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_tiny_and_huge_norms(scale):
    z1, z2 = views(8, 5, torch.float32, seed=4, scale=scale)
    want = plain(z1, z2, 0.5)
    torch.testing.assert_close(nt_xent_fused(z1, z2, 0.5), want, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(nt_xent_blockwise(z1, z2, 0.5, block_size=3), want, rtol=1e-4, atol=1e-5)


def test_bfloat16_close_to_float32_reference():
    z1, z2 = views(64, 32, torch.float32, seed=5)
    want = plain(z1, z2, 0.5)
    for got in (nt_xent_fused(z1.bfloat16(), z2.bfloat16(), 0.5),
                nt_xent_blockwise(z1.bfloat16(), z2.bfloat16(), 0.5, block_size=16)):
        assert got.dtype == torch.bfloat16 and got.dim() == 0
        torch.testing.assert_close(got.float(), want, rtol=2e-2, atol=2e-2)


def test_contract_dtype_0dim_inputs_untouched_default_temperature():
    z1, z2 = views(6, 5, torch.float32, seed=6)
    before = z1.clone(), z2.clone()
    for fn in (nt_xent_fused, nt_xent_blockwise, nt_xent):
        out = fn(z1, z2)
        assert out.dim() == 0 and out.dtype == torch.float32
        torch.testing.assert_close(out, plain(z1, z2, 0.5))
    assert torch.equal(z1, before[0]) and torch.equal(z2, before[1])


@pytest.mark.parametrize("fn", [nt_xent_fused, nt_xent_blockwise, nt_xent])
def test_rejects_what_the_reference_rejects(fn):
    for a, b in [((3, 4), (3, 5)), ((3, 4), (2, 4)), ((4,), (4,))]:
        with pytest.raises(ValueError):
            fn(torch.randn(a), torch.randn(b), 0.5)
    with pytest.raises(ValueError):
        fn(torch.randn(3, 4), torch.randn(3, 4), 0.0)


@pytest.mark.parametrize("block", [0, -1, 2.5, True])
def test_rejects_bad_block_size(block):
    with pytest.raises(ValueError):
        nt_xent_blockwise(torch.randn(3, 4), torch.randn(3, 4), 0.5, block_size=block)


class LargestTensors(TorchDispatchMode):
    """Records the size of every tensor an operator returns (forward and backward alike)."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in (out if isinstance(out, (tuple, list)) else (out,)):
            if isinstance(t, torch.Tensor):
                self.sizes.append(t.untyped_storage().nbytes() // t.element_size())
        return out


@pytest.mark.parametrize("temperature", [0.5, 0.001])
def test_blockwise_never_makes_the_whole_matrix(temperature):
    n, d, block = 64, 4, 16                                        # 2N = 128: the matrix has 16384 entries
    z1, z2 = (z.requires_grad_(True) for z in views(n, d, torch.float32, seed=2))
    with LargestTensors() as seen:
        torch.autograd.grad(nt_xent_blockwise(z1, z2, temperature, block_size=block), [z1, z2])
    assert max(seen.sizes) <= block * 2 * n                        # one block of rows: 2048 entries
    with LargestTensors() as seen:
        torch.autograd.grad(nt_xent_fused(z1, z2, temperature), [z1, z2])
    assert max(seen.sizes) == (2 * n) ** 2                         # the fused version keeps one such buffer
