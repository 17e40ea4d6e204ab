"""The statistics behind grader/checks/negative_sampler.py, tested in-process (no sandbox).

1. Calibration: under each test's null hypothesis, simulated exactly, the chi-square
   p-values fall below a level about as often as that level says, at the levels a test
   run can afford to simulate (1e-2, 1e-3). The checks reject at 1e-6; with >= 100
   expected draws per cell, longer simulations (4e5 runs) matched nominal down to 1e-5.
2. The correct samplers (the reference and the catalogue's correct_*.py) pass every
   statistical test at many generator seeds, not only the checks' fixed ones, small
   batches and the large-batch coarse tests included.
3. The subtly biased catalogue samplers fail at several seeds (power), the modulo-biased
   Floyd draw on small batches.
4. The reference hard_negatives agrees with a plain stable sort on tie-heavy inputs.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from grader import stats as chi
from grader.wire import Received

# The statistical checks calibrated over many seeds: the slow tier (python -m pytest -m slow).
pytestmark = pytest.mark.slow

with warnings.catch_warnings():   # the checks' category marks are registered by the grader, not here
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    from grader.checks import negative_sampler as ns

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "tests" / "submissions" / "negative_sampler"


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f"_ns_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORRECT = [ROOT / "solutions" / "negative_sampler.py", *sorted(CATALOGUE.glob("correct_*.py"))]


def p_value(observed, expected, scale=1.0):
    return chi.chi_square(torch.as_tensor(observed), torch.as_tensor(expected, dtype=torch.float64), scale)[2]


def rejection_rate(stats_fn, sims, level):
    return sum(p < level for p in stats_fn(sims)) / sims


# -- 1. calibration ------------------------------------------------------------------------------
def test_chi2_tail_matches_known_quantiles():
    # chi-square upper quantiles (df, x, tail): from standard tables
    for df, x, tail in [(1, 3.841, 0.05), (3, 11.345, 0.01), (10, 29.588, 0.001), (55, 73.311, 0.05)]:
        assert chi.chi2_tail(x, df) == pytest.approx(tail, rel=2e-3)


@pytest.mark.parametrize("experiment", ["subsets", "overlap", "unigram", "pairs"])
def test_multinomial_tests_are_calibrated(experiment):
    rng = np.random.default_rng(12345)
    if experiment == "subsets":
        cells = math.comb(len(ns.SUBSET_CANDIDATE_LABELS), ns.SUBSET_K)
        n, probs = ns.SUBSET_ANCHORS * ns.SUBSET_CALLS, np.full(cells, 1 / cells)
    elif experiment == "overlap":
        k, m = ns.SUBSET_K, len(ns.SUBSET_CANDIDATE_LABELS)
        probs = np.array([math.comb(k, s) * math.comb(m - k, k - s) / math.comb(m, k) for s in range(k + 1)])
        n = ns.SUBSET_ANCHORS // 2 * ns.SUBSET_CALLS
    elif experiment == "pairs":
        marginal = ns.unigram_probabilities(ns.UNIGRAM_PAIR_COUNTS, None).numpy()
        probs, n = np.outer(marginal, marginal).ravel(), 6_000
    else:
        counts, _, power, n = ns.UNIGRAM_TESTS[0]
        probs = ns.unigram_probabilities(counts, power).numpy()
        probs = probs[probs > 0]
    sims = 40_000
    draws = rng.multinomial(n, probs / probs.sum(), size=sims)
    expected = n * probs
    stats = ((draws - expected) ** 2 / expected).sum(1)
    pvals = np.array([chi.chi2_tail(s, len(probs) - 1) for s in stats])
    for level in (1e-2, 1e-3):
        rate = (pvals < level).mean()
        assert rate < 2.0 * level + 3 * math.sqrt(level / sims), (experiment, level, rate)
        assert rate > 0.3 * level - 3 * math.sqrt(level / sims), (experiment, level, rate)


def small_batch_null(layout_index, sims, rng):
    """Pearson statistics and df of the small-batch test under its null: per class, its rows' draws
    over the calls are one multinomial with equal cell probabilities."""
    labels, k = ns.SMALL_LAYOUTS[layout_index]
    labels = np.array(labels)
    stats, df = np.zeros(sims), 0
    for value in np.unique(labels):
        n = int((labels != value).sum())
        cells = math.comb(n, k)
        if cells < 2:
            continue
        draws = ns.SMALL_CALLS * int((labels == value).sum())
        counts = rng.multinomial(draws, np.full(cells, 1 / cells), size=sims)
        stats += ((counts - draws / cells) ** 2 / (draws / cells)).sum(1)
        df += cells - 1
    return stats, df


@pytest.mark.parametrize("layout", range(len(ns.SMALL_LAYOUTS)))
def test_small_batch_tests_are_calibrated(layout):
    rng = np.random.default_rng(2024 + layout)
    sims = 40_000
    stats, df = small_batch_null(layout, sims, rng)
    pvals = torch.special.gammaincc(torch.tensor(df / 2.0, dtype=torch.float64),
                                    torch.from_numpy(stats) / 2).numpy()
    for level in (1e-2, 1e-3):
        rate = (pvals < level).mean()
        assert rate < 2.0 * level + 3 * math.sqrt(level / sims), (layout, level, rate)
        assert rate > 0.3 * level - 3 * math.sqrt(level / sims), (layout, level, rate)


def test_small_batch_experiment_counts_subsets():
    # rows 2 and 3 of the spec's example, written out by hand: cells in itertools.combinations order
    labels = (0, 0, 1, 2)
    rows = [[[2, 3], [3, 2], [0, 1], [0, 1]], [[3, 2], [2, 3], [3, 0], [2, 1]], [[2, 3], [2, 3], [1, 0], [0, 2]]]
    observed, expected, name, df = ns.small_batch_experiment([torch.tensor(r) for r in rows], labels, 2)
    # label 1 (row 2) over {0,1}, {0,3}, {1,3}; label 2 (row 3) over {0,1}, {0,2}, {1,2}
    assert observed.tolist() == [2, 1, 0, 1, 1, 1]
    assert expected.tolist() == [1.0] * 6 and df == 4
    assert name(5) == "the subset [1, 2] in rows [3] (label 2)"


def test_inclusion_scaling_is_calibrated():
    # exact simulation of R uniform K-subsets of n candidates, then the scaled statistic
    rng = np.random.default_rng(7)
    n, k = len(ns.INCLUSION_CANDIDATE_LABELS), ns.INCLUSION_K
    rows, sims = ns.INCLUSION_ANCHORS * ns.INCLUSION_CALLS, 1500
    scale = (1 - k / n) * n / (n - 1)
    pvals = []
    for _ in range(sims):
        chosen = np.argpartition(rng.random((rows, n)), k, axis=1)[:, :k]
        observed = np.bincount(chosen.ravel(), minlength=n)
        pvals.append(p_value(observed, np.full(n, rows * k / n), scale))
    pvals = np.array(pvals)
    # a wrong scale shows up at once: 0.862 vs 1 shifts the 1% tail to ~0.1% or ~5%
    assert 0.004 < (pvals < 0.01).mean() < 0.02
    assert 0.06 < (pvals < 0.1).mean() < 0.14


# -- 2. correct samplers pass at many seeds ----------------------------------------------------------
def negative_runs(module, seed):
    gen = torch.Generator().manual_seed(seed)

    def draw(batches, k):
        outs = []
        for labels, _ in batches:
            out = module.sample_negatives(labels, k, generator=gen)
            outs.append(ns.assert_valid_negatives(Received(out, "cpu", False), labels, k))
        return outs

    subset_batches = ns.layouts(ns.SUBSET_ANCHOR_LABEL, ns.SUBSET_CANDIDATE_LABELS, ns.SUBSET_ANCHORS,
                                ns.SUBSET_CALLS)
    inclusion_batches = ns.layouts(ns.INCLUSION_ANCHOR_LABEL, ns.INCLUSION_CANDIDATE_LABELS,
                                   ns.INCLUSION_ANCHORS, ns.INCLUSION_CALLS)
    pair_batches = ns.layouts(ns.SUBSET_ANCHOR_LABEL, ns.SUBSET_CANDIDATE_LABELS, ns.SUBSET_ANCHORS,
                              ns.SUBSET_CALLS, seed=78)
    observed, expected, _ = ns.subset_experiment(draw(subset_batches, ns.SUBSET_K), subset_batches)
    yield "subsets", p_value(observed, expected)
    observed, expected, _, scale = ns.inclusion_experiment(draw(inclusion_batches, ns.INCLUSION_K),
                                                           inclusion_batches)
    yield "inclusion", p_value(observed, expected, scale)
    observed, expected, _ = ns.overlap_experiment(draw(pair_batches, ns.SUBSET_K), pair_batches)
    yield "independence", p_value(observed, expected)


def unigram_runs(module, seed):
    for i, (counts, dtype, power, n) in enumerate(ns.UNIGRAM_TESTS):
        gen = torch.Generator().manual_seed(seed + i)
        kwargs = {} if power is None else {"power": power}
        drawn = module.sample_unigram(torch.tensor(counts, dtype=dtype), n, generator=gen, **kwargs)
        observed, expected, _ = ns.unigram_experiment(drawn, counts, power)
        yield f"unigram {i}", p_value(observed, expected)
    gen = torch.Generator().manual_seed(seed + 50)
    counts = torch.tensor(ns.UNIGRAM_PAIR_COUNTS)
    drawn = module.sample_unigram(counts, 12_000, generator=gen)
    observed, expected, _ = ns.pair_experiment(drawn[0::2], drawn[1::2], ns.UNIGRAM_PAIR_COUNTS)
    yield "unigram pairs in a call", p_value(observed, expected)
    pairs = torch.stack([module.sample_unigram(counts, 2, generator=gen) for _ in range(6_000)])
    observed, expected, _ = ns.pair_experiment(pairs[:, 0], pairs[:, 1], ns.UNIGRAM_PAIR_COUNTS)
    yield "unigram pairs across calls", p_value(observed, expected)


@pytest.mark.parametrize("path", CORRECT, ids=lambda p: p.stem)
def test_correct_samplers_pass_at_many_seeds(path):
    module = load(path)
    seeds = [ns.SEED_SUBSETS, ns.SEED_UNIGRAM, *range(1, 9)]
    pvals = {}
    for seed in seeds:
        for name, p in [*negative_runs(module, seed), *unigram_runs(module, seed)]:
            pvals.setdefault(name, []).append(p)
    for name, ps in pvals.items():
        assert min(ps) >= chi.ALPHA, (path.stem, name, ps)
    # across 10 seeds x 10 tests, p-values of a correct sampler are spread out, not piled up near 0
    everything = [p for ps in pvals.values() for p in ps]
    assert sum(p < 0.01 for p in everything) <= 5, sorted(everything)[:10]


def small_batch_runs(module, seed):
    gen = torch.Generator().manual_seed(seed)
    for labels, k in ns.SMALL_LAYOUTS:
        batch = torch.tensor(labels)
        outs = [ns.assert_valid_negatives(Received(module.sample_negatives(batch, k, generator=gen), "cpu", False),
                                          batch, k) for _ in range(ns.SMALL_CALLS)]
        observed, expected, _, df = ns.small_batch_experiment(outs, labels, k)
        yield f"small batch {list(labels)}, K={k}", chi.chi_square(observed, expected, df=df)[2]


@pytest.mark.parametrize("path", CORRECT, ids=lambda p: p.stem)
def test_correct_samplers_pass_small_batches_at_several_seeds(path):
    module = load(path)
    pvals = [p for seed in (ns.SEED_SMALL, 1, 2, 3) for _, p in small_batch_runs(module, seed)]
    assert min(pvals) >= chi.ALPHA, (path.stem, pvals)
    assert sum(p < 0.01 for p in pvals) <= 2, sorted(pvals)[:5]


@pytest.mark.parametrize("path", CORRECT, ids=lambda p: p.stem)
def test_correct_samplers_pass_the_large_batch_check(path):
    module = load(path)
    for seed in (ns.LARGE_BATCH_SEED, 1):
        labels = ns.speed_labels(seed, 0, ns.SPEED_B)
        out = module.sample_negatives(labels, ns.SPEED_K, generator=torch.Generator().manual_seed(seed))
        ns.assert_draws_look_uniform(ns.assert_valid_negatives(Received(out, "cpu", False), labels, ns.SPEED_K),
                                     labels, ns.SPEED_K)


# -- 3. subtle biases are caught at every seed tried ------------------------------------------------------
@pytest.mark.parametrize("name, test", [
    ("wrong_cyclic_window", "subsets"), ("wrong_class_balanced", "inclusion"),
    ("wrong_floyd_off_by_one", "subsets"), ("wrong_shared_permutation", "independence"),
])
def test_biased_samplers_fail_at_several_seeds(name, test):
    module = load(CATALOGUE / f"{name}.py")
    for seed in range(3):
        found = dict(negative_runs(module, 100 + seed))
        assert found[test] < chi.ALPHA, (name, test, seed, found)


def test_modulo_biased_floyd_fails_small_batches_at_several_seeds():
    module = load(CATALOGUE / "wrong_floyd_modulo_bias.py")
    for seed in range(3):
        found = dict(small_batch_runs(module, 100 + seed))
        assert min(found.values()) < chi.ALPHA, (seed, found)
        # and the large-batch tests alone do not see it
        assert dict(negative_runs(module, 100 + seed))["subsets"] >= chi.ALPHA


# -- 4. hard_negatives reference vs a plain stable sort ---------------------------------------------------
def test_reference_hard_negatives_matches_stable_sort():
    reference = load(ROOT / "solutions" / "negative_sampler.py")
    gen = torch.Generator().manual_seed(0)
    for trial in range(200):
        b, m = int(torch.randint(1, 20, (1,), generator=gen)), int(torch.randint(2, 60, (1,), generator=gen))
        classes = int(torch.randint(2, 6, (1,), generator=gen))
        a, c = ns.shared_labels(b, m, classes, gen)
        levels = [0, 1, 2, 4][trial % 4]
        sim = torch.randn(b, m, generator=gen)
        if levels:
            sim = torch.randint(0, levels, (b, m), generator=gen).float() / levels
            sim[torch.rand(b, m, generator=gen) < 0.2] *= -1.0          # -0.0 next to 0.0
        fewest = int((a[:, None] != c[None, :]).sum(1).min())
        for k in {1, max(1, fewest // 2), fewest} if fewest else ():
            assert torch.equal(reference.hard_negatives(sim, a, c, k), ns.by_stable_sort(sim, a, c, k))
