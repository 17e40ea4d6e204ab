"""Pearson's chi-square test, for the checks that judge random draws (negative_sampler).

A checks module compares the counts a submission drew with the counts its spec implies, at
the nominal level ALPHA per test; tests/test_negative_sampler_stats.py checks the tail
function, that correct samplers pass at many seeds and that biased ones fail at several.
"""

from __future__ import annotations

import torch

ALPHA = 1e-6


def chi2_tail(stat, df):
    """P(X > stat) for X ~ chi-square(df): the regularized upper incomplete gamma Q(df/2, stat/2)."""
    a = torch.tensor(df / 2.0, dtype=torch.float64)
    x = torch.tensor(max(float(stat), 0.0) / 2.0, dtype=torch.float64)
    return float(torch.special.gammaincc(a, x))


def chi_square(observed, expected, scale=1.0, df=None):
    """Pearson's statistic over the cells, divided by scale; df = cells - 1 unless given (a sum of
    independent multinomials' statistics has the sum of their degrees of freedom)."""
    observed, expected = observed.double(), expected.double()
    stat = float(((observed - expected) ** 2 / expected).sum()) / scale
    df = observed.numel() - 1 if df is None else df
    return stat, df, chi2_tail(stat, df)


def assert_fits(observed, expected, what, cell_names, scale=1.0, df=None, hint=""):
    stat, df, p = chi_square(observed, expected, scale, df)
    if p < ALPHA:
        z = (observed.double() - expected.double()) / expected.double().sqrt()
        worst = int(z.abs().argmax())
        raise AssertionError(
            f"{what}: the draws do not follow the distribution the spec asks for: chi-square "
            f"{stat:.1f} on {df} degrees of freedom, p = {p:.2g} < {ALPHA:g}; largest deviation at "
            f"{cell_names(worst)}: drawn {int(observed[worst])} times, expected {float(expected[worst]):.1f}"
            f"{hint}")
