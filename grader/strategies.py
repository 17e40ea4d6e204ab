"""Hypothesis strategies shared by the checks: small, named, and only used with @given.

Checks draw a few descriptive numbers (sizes, temperature, dtype, seed) and build
tensors from the seed, so that hypothesis shrinks to a readable case such as
Case(n=1, d=2, temperature=0.01, dtype='float64', seed=0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st

FLOAT_DTYPES = {"float32": torch.float32, "float64": torch.float64}

batch_sizes = st.integers(min_value=1, max_value=64)
feature_dims = st.integers(min_value=1, max_value=256)
small_dims = st.integers(min_value=1, max_value=8)
seeds = st.integers(min_value=0, max_value=2**31 - 1)
float_dtype_names = st.sampled_from(sorted(FLOAT_DTYPES))
temperatures = st.one_of(
    st.sampled_from([0.01, 0.07, 0.1, 0.5, 1.0, 10.0]),
    st.floats(min_value=0.01, max_value=10.0, allow_nan=False, allow_infinity=False),
)


@dataclass(frozen=True)
class Case:
    """A pair-of-views case: n rows of dimension d in each view."""

    n: int
    d: int
    temperature: float
    dtype: str
    seed: int

    @property
    def torch_dtype(self) -> torch.dtype:
        return FLOAT_DTYPES[self.dtype]

    def tensors(self, count: int = 2, scale: float = 1.0) -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(self.seed)
        return [torch.randn(self.n, self.d, generator=gen, dtype=torch.float64).mul(scale)
                .to(self.torch_dtype) for _ in range(count)]


def cases(n=batch_sizes, d=feature_dims, temperature=temperatures, dtype=float_dtype_names):
    return st.builds(Case, n=n, d=d, temperature=temperature, dtype=dtype, seed=seeds)
