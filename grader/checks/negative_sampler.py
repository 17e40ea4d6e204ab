"""Hidden checks for sample_negatives, hard_negatives and sample_unigram.

The samplers run in the learner's child with a generator the child builds from a
seed (Learner.call(..., generator_seed=s)); the parent only counts what comes back.
Statistical checks compare those counts with the distribution the spec states, never
with the reference's own draws, because two correct samplers use their random
numbers differently.

Every statistical test is Pearson's chi-square (grader/stats.py) at the nominal level ALPHA = 1e-6 of
its asymptotic chi-square law, on draws whose smallest expected cell count is 100 or
more. Simulated under each test's null hypothesis, the rejection rates match the
nominal level from 1e-2 down to 1e-5; at 1e-6 a correct sampler is rejected by one
test with probability at most a few times 1e-6. A grading runs 14 such tests (3 on
sample_negatives' large layouts, 4 on its small batches, 7 on sample_unigram), so a
correct sampler fails it with probability about 1.4e-5, under the 1e-4 the spec states;
the coarse large-batch tests (z > 8) add about 2e-9
(tests/test_negative_sampler_stats.py checks the calibration by simulation and runs
every test on the correct samplers over many seeds). The generator seeds are fixed,
so a given submission always gets the same verdict.
"""

from __future__ import annotations

import functools
import itertools
import math
import re

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.api import check, examples, learner_raises
from grader.strategies import float_dtype_names, label_cases, seeds
from grader.timing import WithFreshTensor, compare_speed
from grader.stats import assert_fits
from grader.wire import Received

SPEED_B, SPEED_K = 4096, 64                       # sample_negatives
SPEED_HB, SPEED_HM, SPEED_HK = 4096, 4096, 16     # hard_negatives
SPEED_SHORT_B, SPEED_SHORT_M, SPEED_SHORT_K = 32768, 64, 4  # hard_negatives, many short rows
SPEED_CLASSES, SPEED_LIMIT = 50, 3.0


# -- output checks ------------------------------------------------------------------------
def long_output(received, shape, device, what):
    """The learner's output as a CPU tensor, after checking type, dtype, shape and device."""
    if not isinstance(received, Received):
        kind = getattr(received, "type", type(received).__name__)
        raise AssertionError(f"{what}: expected a torch.LongTensor, got {kind}")
    t = received.tensor
    if t.dtype != torch.int64:
        raise AssertionError(f"{what}: expected dtype torch.int64 (a LongTensor of indices), got {t.dtype}")
    if tuple(t.shape) != tuple(shape):
        raise AssertionError(f"{what}: expected shape {tuple(shape)}, got {tuple(t.shape)}")
    if received.device != torch.device(device).type:
        raise AssertionError(f"{what}: expected the result on {device} (the inputs' device), "
                             f"got {received.device}")
    return t


def assert_valid_negatives(received, labels, k, device="cpu", what="sample_negatives"):
    """Shape (B, K), int64, on device, indices in range, no positives, no repeats in a row."""
    b = labels.shape[0]
    t = long_output(received, (b, k), device, what)
    if t.numel() == 0:
        return t
    bad = (t < 0) | (t >= b)
    if bad.any():
        i, c = (int(x) for x in bad.nonzero()[0])
        raise AssertionError(f"{what}: row {i} holds index {int(t[i, c])}, outside [0, {b})")
    same = labels[t] == labels[:, None]
    if same.any():
        i, c = (int(x) for x in same.nonzero()[0])
        j = int(t[i, c])
        if j == i:
            raise AssertionError(f"{what}: row {i} contains {i}, the anchor itself")
        raise AssertionError(f"{what}: row {i} contains {j}, which has the anchor's own label "
                             f"{int(labels[i])}: a positive, not a negative (exclude the whole class, "
                             f"not only the anchor)")
    ordered = t.sort(dim=1).values
    repeat = ordered[:, 1:] == ordered[:, :-1]
    if repeat.any():
        i, c = (int(x) for x in repeat.nonzero()[0])
        raise AssertionError(f"{what}: row {i} holds index {int(ordered[i, c])} more than once; "
                             f"the K negatives of a row must be distinct (no replacement)")
    return t


def assert_draws_look_uniform(t, labels, k, what="sample_negatives"):
    """Coarse tests on one large batch of valid draws, loose enough (z > 8) never to fail a
    uniform sampler: every item is drawn about as often as uniform sampling predicts, where an
    item sits relative to its anchor does not matter, and anchors of one class draw different
    subsets. They stop a sampler that is uniform on the small inputs of the distribution checks
    but takes a fast shortcut (a fixed window, the first K, one shared draw) on large ones."""
    b = labels.shape[0]
    rows = t.shape[0]
    avail = available_negatives(labels).double()                              # (B,)
    share = k / avail                                                         # P(anchor i draws a given negative)
    per_class = torch.zeros(int(labels.max() - labels.min()) + 1, dtype=torch.float64)
    per_class.index_add_(0, labels - labels.min(), share)
    expected = share.sum() - per_class[labels - labels.min()]                 # (B,) expected draws of item j
    observed = torch.bincount(t.reshape(-1), minlength=b).double()
    z_items = ((observed - expected) ** 2 / expected).sum().item()
    z_items = (z_items - b) / (2 * b) ** 0.5
    offsets = (t - torch.arange(rows)[:, None]) % b                           # where a draw sits from its anchor
    bins = 64
    hist = torch.bincount((offsets * bins // b).reshape(-1), minlength=bins).double()
    want = hist.sum() / bins
    z_offsets = (((hist - want) ** 2 / want).sum().item() - (bins - 1)) / (2 * (bins - 1)) ** 0.5
    order = torch.argsort(labels, stable=True)
    same = labels[order[1:]] == labels[order[:-1]]
    first, second = order[:-1][same][:200], order[1:][same][:200]
    overlaps = torch.tensor([torch.isin(t[i], t[j]).sum().item() for i, j in zip(first.tolist(), second.tolist())],
                            dtype=torch.float64)
    overlap_expected = (k * k / avail[first]).mean().item() if len(first) else 0.0
    if z_items > 8:
        raise AssertionError(f"{what} (B={b}, K={k}): some items are drawn far more often than others "
                             f"(chi-square z = {z_items:.0f} over the {b} items); uniform sampling draws each "
                             f"about equally often")
    if z_offsets > 8:
        raise AssertionError(f"{what} (B={b}, K={k}): the draws cluster at fixed distances from their "
                             f"anchor (chi-square z = {z_offsets:.0f}); a uniform draw does not depend on "
                             f"where the anchor sits")
    if len(first) and overlaps.mean().item() > overlap_expected + 8 * (overlap_expected / len(first)) ** 0.5 + 1:
        raise AssertionError(f"{what} (B={b}, K={k}): anchors of the same class share "
                             f"{overlaps.mean().item():.1f} of their {k} negatives on average, where "
                             f"independent uniform draws share {overlap_expected:.1f}")


def available_negatives(labels):
    """(B,) the number of items whose label differs from each anchor's."""
    return (labels[None, :] != labels[:, None]).sum(1)


def by_stable_sort(similarity, anchor_labels, candidate_labels, k):
    """An independent oracle for hard_negatives: a full stable sort of every row."""
    scores = similarity.masked_fill(anchor_labels[:, None] == candidate_labels[None, :], -math.inf)
    return scores.sort(dim=1, descending=True, stable=True).indices[:, :k]


def shared_labels(b, m, classes, gen):
    """Anchor and candidate labels drawn from the same skewed classes (arbitrary integer values)."""
    values = torch.randperm(4 * classes, generator=gen)[:classes] * 37 - 1000
    weights = torch.arange(1, classes + 1, dtype=torch.float64).reciprocal()
    pick = lambda n: values[torch.multinomial(weights, n, replacement=True, generator=gen)]  # noqa: E731
    return pick(b), pick(m)


def numbers_in(text):
    return set(re.findall(r"-?\d+", text))


# -- the statistical experiments (pure functions of the outputs, reused by the kit's tests) ----------
SUBSET_ANCHOR_LABEL = 7
SUBSET_CANDIDATE_LABELS = (5, 5, 5, 5, 9, 9, 9, -2)        # n = 8 candidates, classes of 4, 3, 1
SUBSET_K, SUBSET_ANCHORS, SUBSET_CALLS = 3, 800, 14         # 11200 rows over C(8, 3) = 56 subsets

INCLUSION_ANCHOR_LABEL = 42
INCLUSION_CANDIDATE_LABELS = tuple(v for v, size in ((-7, 1), (3, 2), (100, 3), (12, 5), (55, 8), (8, 11))
                                   for _ in range(size))    # n = 30 candidates in 6 skewed classes
INCLUSION_K, INCLUSION_ANCHORS, INCLUSION_CALLS = 5, 1200, 5  # 6000 rows, 1000 expected per candidate

# Small batches with few candidates per row, where a biased draw shows most: a modulo-reduced
# randint(0, B) % (j + 1) favours the small residues by about j / B unless j + 1 divides B.
# Each (labels, K) is called SMALL_CALLS times; every class with more than one possible K-subset
# gets at least 166 expected draws per subset.
SMALL_LAYOUTS = (
    ((0, 0, 1, 2), 2),                 # the spec's example: rows 2 and 3 each pick 2 of 3
    ((0, 1, 2), 1),                    # 1 of 2
    ((0, 1, 2, 3, 4), 2),              # 2 of 4
    ((9, 9, 4, 4, 7, 7, 7), 3),        # 3 of 5 (two classes of two rows) and 3 of 4
)
SMALL_CALLS = 1000

SEED_SUBSETS, SEED_INDEPENDENCE, SEED_INCLUSION, SEED_UNIGRAM, SEED_SMALL = 1009, 2003, 3001, 4007, 5003
LARGE_BATCH_SEED = 6007

UNIGRAM_TESTS = (
    # counts, dtype, power (None: the default), num_samples
    ((0, 1, 16, 81), torch.int64, None, 36_000),            # the spec's example: 0, 1/36, 8/36, 27/36
    ((1, 2, 5, 10, 50, 100, 500, 1000), torch.int64, None, 200_000),
    ((0.0, 3.5, 0.0, 1.0, 12.0, 40.25, 0.0, 7.0, 2.0, 0.5), torch.float32, 0.5, 100_000),
    ((3, 1, 4, 1, 5, 9, 2, 6), torch.int64, 1.0, 50_000),
    ((0.0, 3.5, 0.0, 1.0, 12.0, 40.25, 0.0, 7.0, 2.0, 0.5), torch.float64, 0.0, 60_000),
)


def layouts(anchor_label, candidate_labels, anchors, calls, seed=77):
    """Batches of `anchors` anchors of one class and fixed candidates, shuffled differently per call.

    Returns [(labels (B,), ordinal (B,))]: ordinal[j] is candidate j's number, -1 for anchors.
    """
    gen = torch.Generator().manual_seed(seed)
    base = torch.tensor([anchor_label] * anchors + list(candidate_labels))
    batches = []
    for _ in range(calls):
        perm = torch.randperm(base.numel(), generator=gen)
        batches.append((base[perm], torch.where(perm >= anchors, perm - anchors, -1)))
    return batches


def anchor_ordinals(outputs, batches):
    """Per call, the (R, K) candidate numbers drawn by the anchor rows (rows in batch order).

    outputs: the (B, K) results, already checked by assert_valid_negatives.
    """
    return [ordinal[t[ordinal < 0]] for t, (_, ordinal) in zip(outputs, batches)]


def subset_experiment(outputs, batches, k=SUBSET_K, n=len(SUBSET_CANDIDATE_LABELS)):
    """(observed, expected, names) over all C(n, k) subsets, each drawn with probability 1/C(n, k)."""
    masks = torch.cat([(1 << o).sum(1) for o in anchor_ordinals(outputs, batches)])
    cells = torch.tensor([m for m in range(1 << n) if bin(m).count("1") == k])
    observed = torch.bincount(masks, minlength=1 << n)[cells]
    expected = torch.full((cells.numel(),), masks.numel() / cells.numel(), dtype=torch.float64)

    def name(i):
        members = [j for j in range(n) if int(cells[i]) >> j & 1]
        return f"the subset of candidates {members}"

    return observed, expected, name


def overlap_experiment(outputs, batches, k=SUBSET_K, n=len(SUBSET_CANDIDATE_LABELS)):
    """Consecutive anchor rows paired: the overlap of two independent uniform k-subsets is hypergeometric."""
    sizes = []
    for o in anchor_ordinals(outputs, batches):
        masks = (1 << o).sum(1)
        pairs = masks.numel() // 2
        both = masks[0:2 * pairs:2] & masks[1:2 * pairs:2]
        sizes.append(torch.tensor([bin(int(m)).count("1") for m in both]))
    sizes = torch.cat(sizes)
    probs = torch.tensor([math.comb(k, s) * math.comb(n - k, k - s) / math.comb(n, k) for s in range(k + 1)],
                         dtype=torch.float64)
    observed = torch.bincount(sizes, minlength=k + 1)
    return observed, probs * sizes.numel(), lambda s: f"pairs of rows sharing {s} negatives"


def inclusion_experiment(outputs, batches, k=INCLUSION_K, n=len(INCLUSION_CANDIDATE_LABELS)):
    """(observed, expected, names, scale): how often each candidate is drawn; each row includes it w.p. k/n.

    Inclusion counts of a uniform k-subset have covariance R p (1-p) n/(n-1) (I - 11'/n), p = k/n,
    so Pearson's statistic divided by scale = (1-p) n/(n-1) is chi-square with n-1 degrees of freedom.
    """
    drawn = torch.cat([o.reshape(-1) for o in anchor_ordinals(outputs, batches)])
    rows = drawn.numel() // k
    observed = torch.bincount(drawn, minlength=n)
    expected = torch.full((n,), rows * k / n, dtype=torch.float64)
    p = k / n
    labels = INCLUSION_CANDIDATE_LABELS if n == len(INCLUSION_CANDIDATE_LABELS) else range(n)
    return observed, expected, (lambda j: f"candidate {j} (label {labels[j]})"), (1 - p) * n / (n - 1)


def small_batch_experiment(outputs, labels, k):
    """(observed, expected, names, df) for one small layout called R times.

    Per class whose anchors have more than one possible K-subset: how often its rows drew each
    K-subset of its valid candidates, each of probability 1 / C(n, K). The rows of a class are
    pooled (rows are independent, so the pooled counts are one multinomial), and the classes'
    Pearson statistics add up: df = sum over the classes of (subsets - 1).
    outputs: the (B, K) results, already checked by assert_valid_negatives.
    """
    labels = torch.as_tensor(labels)
    masks = (1 << torch.stack(outputs)).sum(-1)                               # (R, B) each row's subset
    observed, expected, names, df = [], [], [], 0
    for value in labels.unique().tolist():
        rows = (labels == value).nonzero().squeeze(1)
        subsets = list(itertools.combinations((labels != value).nonzero().squeeze(1).tolist(), k))
        if len(subsets) < 2:
            continue
        cells = torch.tensor([sum(1 << j for j in subset) for subset in subsets])
        drawn = masks[:, rows].reshape(-1)                                    # (R * rows,)
        observed.append((drawn[:, None] == cells[None, :]).sum(0))
        expected.append(torch.full((len(subsets),), drawn.numel() / len(subsets), dtype=torch.float64))
        names += [f"the subset {list(subset)} in rows {rows.tolist()} (label {value})" for subset in subsets]
        df += len(subsets) - 1
    return torch.cat(observed), torch.cat(expected), (lambda i: names[i]), df


def unigram_probabilities(counts, power):
    c = torch.tensor(counts, dtype=torch.float64)
    w = torch.where(c > 0, c.pow(0.75 if power is None else power), 0.0)
    return w / w.sum()


def unigram_experiment(drawn, counts, power):
    """(observed, expected, names) over the items with a positive count; raises if a zero-count item was drawn."""
    probs = unigram_probabilities(counts, power)
    observed = torch.bincount(drawn, minlength=probs.numel())
    zero = (probs == 0) & (observed > 0)
    if zero.any():
        j = int(zero.nonzero()[0])
        raise AssertionError(f"sample_unigram drew item {j}, whose count is 0 (power={power}), "
                             f"{int(observed[j])} times; an item with count 0 must never be drawn")
    keep = probs > 0
    ids = keep.nonzero().squeeze(1)
    return observed[keep], probs[keep] * drawn.numel(), lambda i: f"item {int(ids[i])}"


# -- helpers that call the learner --------------------------------------------------------------
def negatives_of(learner, labels, k, device, seed, **kw):
    return learner.call("sample_negatives", labels, k, device=device, generator_seed=seed, **kw).output


def draw_many(learner, device, batches, k, seed):
    """All batches in one round trip, through one generator seeded once; each result checked."""
    outputs = learner.on(device).call_many("sample_negatives", [[labels, k] for labels, _ in batches],
                                           generator_seed=seed)
    if not isinstance(outputs, list) or len(outputs) != len(batches):
        raise AssertionError(f"sample_negatives: expected {len(batches)} results, got {outputs!r:.200}")
    return [assert_valid_negatives(out, labels, k, device) for out, (labels, _) in zip(outputs, batches)]


def unigram_of(learner, counts, n, device, seed, power=None):
    kwargs = {} if power is None else {"power": power}
    return learner.call("sample_unigram", counts, n, device=device, generator_seed=seed, **kwargs).output


def expect_anchor_named(learner, target, args, anchor, count, what):
    with learner_raises("ValueError", what=what) as raised:
        learner.call(target, *args)
    message = raised.error.error.get("message", "")
    found = numbers_in(message)
    if str(anchor) not in found or str(count) not in found:
        raise AssertionError(f"{target}: the ValueError for {what} should name the first such anchor "
                             f"({anchor}) and its number of valid candidates ({count}); "
                             f"the message was: {message!r}")


# the error-message example: the first short anchor is 6 (label 1, 11 candidates); 10 to 14 too
SHORT_LABELS = torch.tensor([4] * 6 + [1] * 9 + [2] * 4 + [3])
SHORT_K, SHORT_ANCHOR, SHORT_COUNT = 12, 6, 11
# the first short anchor is not the one with the fewest candidates: anchor 0 has 2, anchors 1 and 2
# have 1 (and the last short anchor, 2, is neither)
FEWEST_LATER_LABELS, FEWEST_LATER_K, FEWEST_LATER_ANCHOR, FEWEST_LATER_COUNT = torch.tensor([0, 1, 1]), 3, 0, 2


# -- interface -------------------------------------------------------------------------------
@check("interface")
def check_sample_negatives_rejects_bad_inputs(learner):
    labels = torch.tensor([0, 1, 2, 0, 1])
    for k in (0, -2):
        with learner_raises("ValueError", what=f"num_negatives={k}"):
            learner.call("sample_negatives", labels, k)
    with learner_raises("ValueError", what="2-D labels of shape (3, 2)"):
        learner.call("sample_negatives", torch.tensor([[0, 1], [2, 0], [1, 2]]), 1)


@check("interface")
def check_sample_negatives_error_names_first_short_anchor(learner):
    expect_anchor_named(learner, "sample_negatives", [SHORT_LABELS, SHORT_K], SHORT_ANCHOR, SHORT_COUNT,
                        f"labels {SHORT_LABELS.tolist()} with num_negatives={SHORT_K}")
    expect_anchor_named(learner, "sample_negatives", [FEWEST_LATER_LABELS, FEWEST_LATER_K], FEWEST_LATER_ANCHOR,
                        FEWEST_LATER_COUNT, f"labels {FEWEST_LATER_LABELS.tolist()} with num_negatives="
                        f"{FEWEST_LATER_K} (anchor 1 has fewer candidates, but anchor 0 comes first)")
    with learner_raises("ValueError", what="a batch with a single class"):
        learner.call("sample_negatives", torch.tensor([3, 3, 3]), 1)


@check("interface")
def check_hard_negatives_rejects_bad_inputs(learner):
    a, c = torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2, 3])
    sim = torch.randn(3, 4)
    for k in (0, -1):
        with learner_raises("ValueError", what=f"num_negatives={k}"):
            learner.call("hard_negatives", sim, a, c, k)
    for bad, why in ((torch.randn(3, 5), "similarity (3, 5) with 4 candidates"),
                     (torch.randn(4, 4), "similarity (4, 4) with 3 anchors"),
                     (torch.randn(12), "a 1-D similarity")):
        with learner_raises("ValueError", what=why):
            learner.call("hard_negatives", bad, a, c, 1)


@check("interface")
def check_hard_negatives_error_names_first_short_anchor(learner):
    anchors = torch.tensor([2, 2, 4, 1, 1, 4, 1])          # the candidates of label 1 are too few
    candidates = SHORT_LABELS
    expect_anchor_named(learner, "hard_negatives", [torch.randn(7, 20), anchors, candidates, SHORT_K],
                        3, SHORT_COUNT, f"anchor labels {anchors.tolist()}, candidate labels "
                        f"{candidates.tolist()} and num_negatives={SHORT_K}")
    expect_anchor_named(learner, "hard_negatives", [torch.randn(3, 3), FEWEST_LATER_LABELS, FEWEST_LATER_LABELS,
                                                    FEWEST_LATER_K], FEWEST_LATER_ANCHOR, FEWEST_LATER_COUNT,
                        f"anchor and candidate labels {FEWEST_LATER_LABELS.tolist()} with num_negatives="
                        f"{FEWEST_LATER_K} (anchor 1 has fewer candidates, but anchor 0 comes first)")


@check("interface")
def check_sample_unigram_rejects_bad_inputs(learner):
    bad_counts = [
        (torch.tensor([1.0, -1.0, 2.0]), "a negative count"),
        (torch.tensor([0, 0, 0]), "all counts zero"),
        (torch.tensor([1.0, float("nan")]), "a nan count"),
        (torch.tensor([1.0, float("inf")]), "an infinite count"),
        (torch.ones(2, 3), "2-D counts"),
        (torch.zeros(0), "empty counts"),
    ]
    for counts, why in bad_counts:
        with learner_raises("ValueError", what=why):
            learner.call("sample_unigram", counts, 5)
    with learner_raises("ValueError", what="num_samples=0"):
        learner.call("sample_unigram", torch.tensor([1, 2]), 0)
    for power in (-0.5, float("nan")):
        with learner_raises("ValueError", what=f"power={power}"):
            learner.call("sample_unigram", torch.tensor([1, 2]), 5, power=power)


@check("interface")
def check_accepts_keyword_arguments_and_no_generator(learner, device):
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    out = learner.call("sample_negatives", labels=labels, num_negatives=2, device=device).output
    assert_valid_negatives(out, labels, 2, device, "sample_negatives without a generator")
    sim = torch.tensor([[0.1, 0.5, 0.3], [0.2, 0.0, 0.9]])
    out = learner.call("hard_negatives", similarity=sim, anchor_labels=torch.tensor([0, 1]),
                       candidate_labels=torch.tensor([1, 2, 0]), num_negatives=1, device=device).output
    got = long_output(out, (2, 1), device, "hard_negatives")
    if got.tolist() != [[1], [2]]:
        raise AssertionError(f"hard_negatives with keyword arguments: expected [[1], [2]], got {got.tolist()}")
    out = learner.call("sample_unigram", counts=torch.tensor([0, 3, 1]), num_samples=50, device=device).output
    drawn = long_output(out, (50,), device, "sample_unigram without a generator")
    if not ((drawn == 1) | (drawn == 2)).all():
        raise AssertionError(f"sample_unigram: drew ids outside the positive-count items 1, 2: {drawn.tolist()}")


# -- correctness -----------------------------------------------------------------------------
@check("correctness")
def check_sample_negatives_worked_example(learner, device):
    # labels [0, 0, 1, 2], K = 2: rows 0 and 1 can only be {2, 3}; rows 2 and 3 pick 2 of 3
    labels = torch.tensor([0, 0, 1, 2])
    outs = learner.on(device).call_many("sample_negatives", [[labels, 2]] * 60, generator_seed=5)
    seen = {2: set(), 3: set()}
    for out in outs:
        t = assert_valid_negatives(out, labels, 2, device)
        for i in (0, 1):
            if sorted(t[i].tolist()) != [2, 3]:
                raise AssertionError(f"sample_negatives(labels=[0, 0, 1, 2], 2): row {i} must be "
                                     f"{{2, 3}}, got {t[i].tolist()}")
        for i in (2, 3):
            seen[i].add(tuple(sorted(t[i].tolist())))
    for i, got in seen.items():
        if len(got) < 3:   # each of the 3 subsets has probability 1/3: all seen in 60 draws but w.p. ~1e-10
            raise AssertionError(f"sample_negatives(labels=[0, 0, 1, 2], 2): in 60 draws row {i} only "
                                 f"ever held {sorted(got)}; each 2-subset of its 3 candidates should appear")


@check("correctness")
@examples(30)
@given(case=label_cases(), k_share=st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)),
       generator_seed=seeds)
def check_sample_negatives_valid_on_label_sets(learner, device, case, k_share, generator_seed):
    labels = case.labels()
    fewest = int(available_negatives(labels).min())
    if fewest == 0:
        with learner_raises("ValueError", what=f"labels where anchor {int(available_negatives(labels).argmin())}"
                                               " has no valid candidate"):
            learner.call("sample_negatives", labels, 1, device=device, generator_seed=generator_seed)
        return
    k = 1 + int(k_share * (fewest - 1))
    out = negatives_of(learner, labels, k, device, generator_seed)
    assert_valid_negatives(out, labels, k, device)


@check("correctness")
def check_hard_negatives_worked_example(learner, device):
    sim = torch.tensor([[0.9, 0.4, 0.4, 0.8, 0.1],
                        [0.3, 0.9, 0.3, 0.7, 0.5]])
    out = learner.call("hard_negatives", sim, torch.tensor([0, 1]), torch.tensor([0, 1, 2, 1, 0]), 2,
                       device=device).output
    got = long_output(out, (2, 2), device, "hard_negatives")
    if got.tolist() != [[3, 1], [4, 0]]:
        raise AssertionError("hard_negatives on the spec's example: expected [[3, 1], [4, 0]], "
                             f"got {got.tolist()}")


@check("correctness")
def check_hard_negatives_ties_exact(learner, device):
    row = [0.5, 0.7, 0.5, 0.7, 0.2, 0.7, 0.5, 0.0, -0.0, 0.7, 0.2, 0.5]
    cases = [
        # (similarity rows, anchor labels, candidate labels)
        ([row, row[::-1], [0.3] * 12], [0, 1, 2], [1, 0, 2, 2, 0, 1, 0, 2, 1, 1, 0, 2]),
        ([[1.0] * 9] * 3, [5, 6, 7], [5, 6, 7, 5, 6, 7, 5, 6, 7]),
        ([[0.0, -0.0, 0.0, -0.0, 1.0, -1.0]], [3], [4, 4, 4, 4, 4, 4]),
    ]
    for sim_rows, anchors, candidates in cases:
        for dtype in (torch.float32, torch.float64):
            sim = torch.tensor(sim_rows, dtype=dtype)
            a, c = torch.tensor(anchors), torch.tensor(candidates)
            fewest = int((a[:, None] != c[None, :]).sum(1).min())
            for k in range(1, fewest + 1):
                want = by_stable_sort(sim, a, c, k)
                got = long_output(learner.call("hard_negatives", sim, a, c, k, device=device).output,
                                  want.shape, device, "hard_negatives")
                if not torch.equal(got, want):
                    i = int((got != want).any(1).nonzero()[0])
                    raise AssertionError(
                        f"hard_negatives with exact ties (K={k}, {dtype}): row {i} should be "
                        f"{want[i].tolist()}, got {got[i].tolist()}; similarities {sim[i].tolist()}, "
                        f"anchor label {anchors[i]}, candidate labels {candidates}. Equal similarities "
                        f"go by the smaller index, both inside the K and at the K-th place "
                        f"(-0.0 equals 0.0)")


@check("correctness")
@examples(30)
@given(b=st.integers(1, 48), m=st.integers(1, 200), classes=st.integers(1, 12),
       levels=st.sampled_from([0, 1, 2, 3, 7]), dtype=float_dtype_names,
       k_share=st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)), seed=seeds)
def check_hard_negatives_matches_reference(learner, reference, device, b, m, classes, levels, dtype, k_share,
                                           seed):
    # levels > 0: similarities take only that many distinct values, so ties are everywhere
    gen = torch.Generator().manual_seed(seed)
    a, c = shared_labels(b, m, classes, gen)
    sim = torch.randn(b, m, generator=gen, dtype=torch.float64)
    if levels:
        sim = torch.randint(0, levels, (b, m), generator=gen).double() / levels - 0.3
    sim = sim.to(getattr(torch, dtype))
    fewest = int((a[:, None] != c[None, :]).sum(1).min())
    if fewest == 0:
        with learner_raises("ValueError", what="an anchor without any candidate of another label"):
            learner.call("hard_negatives", sim, a, c, 1, device=device)
        return
    k = 1 + int(k_share * (fewest - 1))
    want = reference.hard_negatives(sim, a, c, k)
    got = long_output(learner.call("hard_negatives", sim, a, c, k, device=device).output, (b, k), device,
                      "hard_negatives")
    if not torch.equal(got, want):
        i = int((got != want).any(1).nonzero()[0])
        raise AssertionError(f"hard_negatives (B={b}, M={m}, K={k}): row {i} should be {want[i].tolist()}, "
                             f"got {got[i].tolist()}")


@check("correctness")
@examples(20)
@given(v=st.integers(1, 300), zeros=st.floats(0.0, 0.9), as_float=st.booleans(),
       power=st.sampled_from([None, 0.0, 0.5, 0.75, 1.0, 2.0]), n=st.integers(1, 5000), seed=seeds)
def check_sample_unigram_valid(learner, device, v, zeros, as_float, power, n, seed):
    gen = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, 1000, (v,), generator=gen)
    counts[torch.rand(v, generator=gen) < zeros] = 0
    counts[torch.randint(0, v, (1,), generator=gen)] = 7          # at least one positive
    if as_float:
        counts = counts.double() / 3
    drawn = long_output(unigram_of(learner, counts, n, device, seed, power), (n,), device, "sample_unigram")
    outside = (drawn < 0) | (drawn >= v)
    if outside.any():
        raise AssertionError(f"sample_unigram: ids outside [0, {v}): {drawn[outside][:5].tolist()}")
    hit = counts[drawn] == 0
    if hit.any():
        why = " (0 ** 0 is 1 in floating point)" if power == 0 else ""
        raise AssertionError(f"sample_unigram (power={power}) drew item {int(drawn[hit][0])}, whose count "
                             f"is 0; an item with count 0 must never be drawn{why}")


@check("correctness")
def check_sample_unigram_single_positive_item(learner, device):
    counts = torch.tensor([0, 0, 0, 5, 0])
    for power in (None, 0.0, 0.75, 3.0):
        drawn = long_output(unigram_of(learner, counts, 200, device, 3, power), (200,), device, "sample_unigram")
        if not (drawn == 3).all():
            raise AssertionError(f"sample_unigram(counts={counts.tolist()}, power={power}): only item 3 "
                                 f"has a positive count, but the draws hold {sorted(set(drawn.tolist()))}")


# Distinct int64 labels that int32 truncation (1 and 2**32 + 1, 5 and 5 - 2**40), float32
# (2**24 and 2**24 + 1) or float64 (2**53 and 2**53 + 1) would merge; rows 0 and 8 share a label.
WIDE_LABELS = torch.tensor([1, 2**32 + 1, 5, 5 - 2**40, 2**24, 2**24 + 1, 2**53, 2**53 + 1, 1])


@check("correctness")
def check_labels_keep_all_64_bits(learner, device):
    labels, k = WIDE_LABELS, int(available_negatives(WIDE_LABELS).min())     # k = 7
    shown = "labels [1, 2**32+1, 5, 5-2**40, 2**24, 2**24+1, 2**53, 2**53+1, 1]"
    got = assert_valid_negatives(negatives_of(learner, labels, k, device, 19), labels, k, device)
    for row in (0, 8):
        if sorted(got[row].tolist()) != list(range(1, 8)):
            raise AssertionError(f"sample_negatives({shown}, {k}): row {row} must hold all of 1..7, the items "
                                 f"whose label differs from its own, got {sorted(got[row].tolist())}; "
                                 "labels are int64 values and differ even when they agree in 32 bits or "
                                 "as floats")
    sim = torch.linspace(1.0, 0.1, 9, dtype=torch.float64).repeat(4, 1)     # candidate j scores 1 - j/10
    anchors = WIDE_LABELS[[0, 1, 4, 6]]
    want = by_stable_sort(sim, anchors, WIDE_LABELS, k)
    got = long_output(learner.call("hard_negatives", sim, anchors, WIDE_LABELS, k, device=device).output,
                      want.shape, device, "hard_negatives")
    if not torch.equal(got, want):
        i = int((got != want).any(1).nonzero()[0])
        raise AssertionError(f"hard_negatives with candidate {shown} and anchor label {int(anchors[i])}: "
                             f"row {i} should be {want[i].tolist()}, got {got[i].tolist()}; labels are int64 "
                             "values and differ even when they agree in 32 bits or as floats")


@check("correctness")
def check_hard_negatives_float64_precision(learner, device):
    base = 0.3
    row = [base, base + 1e-12, 0.2, base - 1e-12, base + 2e-12, base]      # one float32 value for all near 0.3
    sim = torch.tensor([row, row[::-1]], dtype=torch.float64)
    a, c = torch.tensor([0, 1]), torch.tensor([2, 3, 4, 5, 6, 7])
    for k in (1, 3, 5):
        want = by_stable_sort(sim, a, c, k)
        got = long_output(learner.call("hard_negatives", sim, a, c, k, device=device).output, want.shape,
                          device, "hard_negatives")
        if not torch.equal(got, want):
            i = int((got != want).any(1).nonzero()[0])
            raise AssertionError(f"hard_negatives on float64 similarities that differ by 1e-12 (K={k}): row {i} "
                                 f"should be {want[i].tolist()}, got {got[i].tolist()}; rank by the similarity "
                                 "as given, without rounding it to a lower precision")


# -- properties: determinism under a generator -----------------------------------------------------
@check("properties")
def check_same_generator_seed_same_draws(learner, device, seed):
    labels = torch.arange(64) % 8
    s = seed % (2**31 - 2)
    first = negatives_of(learner, labels, 8, device, s)
    again = negatives_of(learner, labels, 8, device, s)
    assert_valid_negatives(first, labels, 8, device)
    if not torch.equal(first.tensor, long_output(again, (64, 8), device, "sample_negatives")):
        raise AssertionError("sample_negatives: two calls with generators seeded alike gave different "
                             "draws; all randomness must come from the generator argument")
    counts = torch.arange(50) + 1
    first = unigram_of(learner, counts, 1000, device, s)
    again = unigram_of(learner, counts, 1000, device, s)
    first, again = (long_output(x, (1000,), device, "sample_unigram") for x in (first, again))
    if not torch.equal(first, again):
        raise AssertionError("sample_unigram: two calls with generators seeded alike gave different "
                             "draws; all randomness must come from the generator argument")


@check("properties")
def check_different_generator_seeds_differ(learner, device, seed):
    # a correct sampler repeats these draws with probability below 1e-100
    labels = torch.arange(64) % 8
    s = seed % (2**31 - 2)
    one = assert_valid_negatives(negatives_of(learner, labels, 8, device, s), labels, 8, device)
    two = assert_valid_negatives(negatives_of(learner, labels, 8, device, s + 1), labels, 8, device)
    if torch.equal(one.sort(dim=1).values, two.sort(dim=1).values):
        raise AssertionError("sample_negatives: generators with different seeds gave the same negatives; "
                             "the draws must be random and come from the generator")
    counts = torch.arange(50) + 1
    one = long_output(unigram_of(learner, counts, 1000, device, s), (1000,), device, "sample_unigram")
    two = long_output(unigram_of(learner, counts, 1000, device, s + 1), (1000,), device, "sample_unigram")
    if torch.equal(one, two):
        raise AssertionError("sample_unigram: generators with different seeds gave the same draws")


# -- distribution ------------------------------------------------------------------------------------
@check("distribution")
def check_sample_negatives_uniform_subsets(learner, device):
    batches = layouts(SUBSET_ANCHOR_LABEL, SUBSET_CANDIDATE_LABELS, SUBSET_ANCHORS, SUBSET_CALLS)
    outputs = draw_many(learner, device, batches, SUBSET_K, SEED_SUBSETS)
    observed, expected, name = subset_experiment(outputs, batches)
    assert_fits(observed, expected, f"sample_negatives, K={SUBSET_K} of 8 candidates, "
                f"{int(observed.sum())} rows: each of the 56 subsets should be equally likely", name)


@check("distribution")
def check_sample_negatives_uniform_inclusion(learner, device):
    batches = layouts(INCLUSION_ANCHOR_LABEL, INCLUSION_CANDIDATE_LABELS, INCLUSION_ANCHORS, INCLUSION_CALLS)
    outputs = draw_many(learner, device, batches, INCLUSION_K, SEED_INCLUSION)
    observed, expected, name, scale = inclusion_experiment(outputs, batches)
    assert_fits(observed, expected, f"sample_negatives, K={INCLUSION_K} of 30 candidates in classes of "
                "sizes 1 to 11: every candidate should be drawn equally often, whatever its class", name, scale)


@check("distribution")
def check_sample_negatives_rows_independent(learner, device):
    batches = layouts(SUBSET_ANCHOR_LABEL, SUBSET_CANDIDATE_LABELS, SUBSET_ANCHORS, SUBSET_CALLS, seed=78)
    outputs = draw_many(learner, device, batches, SUBSET_K, SEED_INDEPENDENCE)
    observed, expected, name = overlap_experiment(outputs, batches)
    assert_fits(observed, expected, "sample_negatives: two anchors of the same class should draw independent "
                "uniform subsets, whose overlap sizes are hypergeometric", name)


@check("distribution")
def check_sample_negatives_uniform_small_batches(learner, device):
    for i, (labels, k) in enumerate(SMALL_LAYOUTS):
        batch = torch.tensor(labels)
        outputs = draw_many(learner, device, [(batch, None)] * SMALL_CALLS, k, SEED_SMALL + i)
        observed, expected, name, df = small_batch_experiment(outputs, labels, k)
        assert_fits(observed, expected, f"sample_negatives(labels={list(labels)}, {k}), {SMALL_CALLS} calls: "
                    "every row should hold each K-subset of its valid candidates equally often", name, df=df,
                    hint=". Small batches show a biased draw most: e.g. randint(0, B) % n favours the small "
                         "residues unless n divides B")


@check("distribution")
def check_sample_negatives_uniform_large_batch(learner, device):
    # The coarse tests of the speed check, at its shape, outside the speed category: a sampler that
    # takes a shortcut only on large batches must fail with --skip speed too.
    labels = speed_labels(LARGE_BATCH_SEED, 0, SPEED_B)
    out = negatives_of(learner, labels, SPEED_K, device, LARGE_BATCH_SEED)
    assert_draws_look_uniform(assert_valid_negatives(out, labels, SPEED_K, device).cpu(), labels, SPEED_K)


@check("distribution")
def check_sample_unigram_distribution(learner, device):
    for i, (counts, dtype, power, n) in enumerate(UNIGRAM_TESTS):
        out = unigram_of(learner, torch.tensor(counts, dtype=dtype), n, device, SEED_UNIGRAM + i, power)
        drawn = long_output(out, (n,), device, "sample_unigram")
        observed, expected, name = unigram_experiment(drawn, counts, power)
        shown = "the default power" if power is None else f"power={power}"
        assert_fits(observed, expected, f"sample_unigram(counts={list(counts)}, {shown}), {n} draws: "
                    "P(i) should be proportional to counts[i]**power", name)


UNIGRAM_PAIR_COUNTS = (1, 2, 3)


def pair_experiment(first, second, counts):
    """(observed, expected, names) over the 9 (first, second) cells: independent draws make each
    cell's probability the product of the two marginals."""
    probs = unigram_probabilities(counts, None)
    v = probs.numel()
    observed = torch.bincount(first * v + second, minlength=v * v)
    expected = torch.outer(probs, probs).flatten() * first.numel()
    return observed, expected, lambda i: f"pair ({i // v}, {i % v})"


@check("distribution")
def check_sample_unigram_draws_independent(learner, device):
    counts = torch.tensor(UNIGRAM_PAIR_COUNTS)
    n = 12_000
    drawn = long_output(unigram_of(learner, counts, n, device, SEED_UNIGRAM + 50), (n,), device,
                        "sample_unigram")
    observed, expected, name = pair_experiment(drawn[0::2], drawn[1::2], UNIGRAM_PAIR_COUNTS)
    assert_fits(observed, expected, f"sample_unigram(counts={list(UNIGRAM_PAIR_COUNTS)}, {n}): draws 2i and "
                "2i + 1 of one call should be independent", name)
    outs = learner.on(device).call_many("sample_unigram", [[counts, 2]] * 6_000, generator_seed=SEED_UNIGRAM + 51)
    pairs = torch.stack([long_output(o, (2,), device, "sample_unigram") for o in outs])
    observed, expected, name = pair_experiment(pairs[:, 0], pairs[:, 1], UNIGRAM_PAIR_COUNTS)
    assert_fits(observed, expected, f"sample_unigram(counts={list(UNIGRAM_PAIR_COUNTS)}, 2), 6000 calls: "
                "the two draws of a call should be independent", name)


# -- hygiene -------------------------------------------------------------------------------------------
@check("hygiene")
def check_inputs_not_modified(learner, device):
    labels = torch.tensor([3, 1, 2, 1, 3, 0, 2, 2])
    sim = torch.randn(4, 8, generator=torch.Generator().manual_seed(4))
    counts = torch.tensor([0.0, 4.0, 1.0, 9.0])
    calls = [("sample_negatives", [labels, 3], {"generator_seed": 1}, ["labels"]),
             ("hard_negatives", [sim, labels[:4], labels, 2], {}, ["similarity", "anchor_labels",
                                                                  "candidate_labels"]),
             ("sample_unigram", [counts, 20], {"generator_seed": 1}, ["counts"])]
    for target, args, kwargs, names in calls:
        result = learner.call(target, *args, device=device, return_inputs=True, **kwargs)
        for sent, after, name in zip(args, result.inputs_after, names):
            if not torch.equal(after.tensor, sent):
                raise AssertionError(f"{target} modified its input {name} in place; the spec forbids it")


# -- speed -----------------------------------------------------------------------------------------------
def speed_labels(seed, rep, n):
    gen = torch.Generator().manual_seed(seed * 1000 + rep)
    return torch.randint(0, SPEED_CLASSES, (n,), generator=gen) * 3 - 20


@check("speed", depends=("sample_negatives_valid_on_label_sets",))
def check_sample_negatives_speed(learner, reference_child, device, seed, record_property):
    current = {}

    def make_args(rep):
        current["labels"] = speed_labels(seed, rep, SPEED_B)
        return [current["labels"], SPEED_K]

    def verify(mine, theirs):
        t = assert_valid_negatives(mine.output, current["labels"], SPEED_K, device)
        assert_draws_look_uniform(t.cpu(), current["labels"], SPEED_K)

    result = compare_speed(learner.on(device), reference_child.on(device), "sample_negatives", make_args,
                           grad=None, kwargs={"generator_seed": seed % 1000}, verify=verify,
                           max_ratio=SPEED_LIMIT)
    record_property("message", f"B={SPEED_B}, K={SPEED_K}: {result.describe()}")


@functools.lru_cache(maxsize=2)   # both sides of one repetition get the same tensor
def _speed_similarity(seed: int, shape: tuple) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _time_hard_negatives(learner, reference_child, device, seed, b, m, k):
    # fresh labels and a fresh similarity every repetition; the similarity is sent before each timed call
    mine, theirs = (WithFreshTensor(side, "similarity", functools.partial(_speed_similarity, shape=(b, m)),
                                    arg_names=("anchor_labels", "candidate_labels", "num_negatives"))
                    for side in (learner.on(device), reference_child.on(device)))

    def make_args(rep):
        return [seed * 1000 + rep, speed_labels(seed, rep, b), speed_labels(seed + 1, rep, m), k]

    def verify(got, want):
        t = long_output(got.output, (b, k), device, "hard_negatives")
        if not torch.equal(t, want.output.tensor):
            rows = int((t != want.output.tensor).any(1).sum())
            raise AssertionError(f"hard_negatives (B={b}, M={m}, K={k}): {rows} rows "
                                 "differ from the reference")

    result = compare_speed(mine, theirs, "hard_negatives", make_args, grad=None, verify=verify,
                           max_ratio=SPEED_LIMIT)
    return f"B={b}, M={m}, K={k}: {result.describe()}"


@check("speed", depends=("hard_negatives_matches_reference",))
def check_hard_negatives_speed(learner, reference_child, device, seed, record_property):
    record_property("message", _time_hard_negatives(learner, reference_child, device, seed,
                                                    SPEED_HB, SPEED_HM, SPEED_HK))


@check("speed", depends=("hard_negatives_matches_reference",))
def check_hard_negatives_speed_many_short_rows(learner, reference_child, device, seed, record_property):
    # At B = M = 4096 one topk per row costs about what the vectorized topk does, so a loop over
    # anchors can hide there; with many short rows the per-row Python overhead dominates.
    record_property("message", _time_hard_negatives(learner, reference_child, device, seed,
                                                    SPEED_SHORT_B, SPEED_SHORT_M, SPEED_SHORT_K))
