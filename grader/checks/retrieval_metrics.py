"""Hidden checks for recall_at_k, mean_reciprocal_rank and knn_classify.

Ranks are compared as intervals: in the parent, from float64 cosines, each query's rank is
bracketed by resolving every near-tie (within the input dtype's rounding) for and against
it, so a correct submission that computes its cosines another way is never rejected by a
rounding flip, while the stated tie rule is checked exactly on inputs whose cosines are exact.
"""

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.api import LearnerRaised, as_tensor, check, examples, learner_raises
from grader.sandbox import Handle
from grader.strategies import FLOAT_DTYPES, float_dtype_names, seeds
from grader.timing import compare_at_each, compare_speed

SPEED_LIMIT = 3.0
# Cosines of the same float32 inputs computed two correct ways differ by a few 1e-7.
COS_SLACK = {torch.float32: 2e-6, torch.float64: 1e-12}
MEAN_ATOL = 1e-5
# The memory check: N = M = 8,192 queries and gallery items, and knn with 8,192 training and
# 2,048 test items. The budget is below the size of any (N, M) tensor, even a boolean mask
# (64 MiB; the float32 similarities are 256 MiB); chunks of 256 rows take ~25 MiB at the peak.
MEMORY_N, MEMORY_D, MEMORY_CLASSES, MEMORY_KNN_TEST = 8_192, 32, 100, 2_048
MEMORY_BUDGET = 48 * 2**20
# (N queries, M gallery items, D): a loop over the queries costs most where the gallery is short.
SPEED_SETTINGS = (("recall_at_k", 1024, 4096, 64), ("recall_at_k", 2048, 256, 64),
                  ("mean_reciprocal_rank", 1024, 4096, 64), ("knn_classify", 1024, 4096, 64))


# -- inputs -------------------------------------------------------------------------------
def features(seed, n, d, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen, dtype=torch.float64).to(dtype)


def labels(seed, n, classes, offset=-3):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, classes, (n,), generator=gen) * 7 + offset


def retrieval_case(seed, n, m, d, classes, dtype, same_set):
    """(query, gallery, query_labels, gallery_labels): clustered features, so ranks vary."""
    centers = features(seed, classes, d) * 1.5
    g_labels = torch.randint(0, classes, (m,), generator=torch.Generator().manual_seed(seed + 1))
    gallery = centers[g_labels] + features(seed + 2, m, d)
    if same_set:
        query, q_labels = gallery, g_labels
    else:
        q_labels = torch.randint(0, classes + 1, (n,), generator=torch.Generator().manual_seed(seed + 3))
        query = centers[q_labels.clamp_max(classes - 1)] + features(seed + 4, n, d)
    # label values are arbitrary integers; class `classes` (some queries) has no gallery item
    return query.to(dtype), gallery.to(dtype), q_labels * 7 - 3, g_labels * 7 - 3


# -- the rank brackets -------------------------------------------------------------------------
def rank_brackets(query, gallery, query_labels, gallery_labels, exclude_self, slack):
    """(found (N,) bool, rank_lo (N,), rank_hi (N,)): the first relevant item's rank with every
    non-relevant item within `slack` of the best relevant cosine counted for (lo) and against (hi)."""
    sims = F.normalize(query.double(), dim=1) @ F.normalize(gallery.double(), dim=1).T   # (N, M)
    relevant = query_labels[:, None] == gallery_labels[None, :]
    if exclude_self:
        eye = torch.eye(len(query), dtype=torch.bool)
        sims = sims.masked_fill(eye, float("-inf"))
        relevant = relevant & ~eye
    found = relevant.any(1)
    best = sims.masked_fill(~relevant, float("-inf")).amax(1, keepdim=True)
    other = ~relevant & torch.isfinite(sims)
    lo = 1 + ((sims >= best + slack) & other).sum(1)   # with slack 0 the rule itself: lo == hi
    hi = 1 + ((sims >= best - slack) & other).sum(1)
    return found, lo, hi


def recall_bounds(found, lo, hi, k):
    return ((found & (hi <= k)).double().mean().item(), (found & (lo <= k)).double().mean().item())


def mrr_bounds(found, lo, hi):
    return ((found / hi.double()).mean().item(), (found / lo.double()).mean().item())


def assert_within(got, bounds, what):
    low, high = bounds
    if not (low - MEAN_ATOL <= got <= high + MEAN_ATOL):
        want = f"{low:.6g}" if abs(high - low) < 1e-12 else f"between {low:.6g} and {high:.6g} (near-ties)"
        raise AssertionError(f"{what}: expected {want}, got {got:.6g}")


# -- reading the learner's results ----------------------------------------------------------
def as_float(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if hasattr(value, "tensor") and value.tensor.numel() == 1:
            return float(value.tensor.item())
        kind = getattr(value, "type", type(value).__name__)
        raise AssertionError(f"{what}: expected a float, got {kind}")
    return float(value)


def recall_of(learner, *args, ks=(1, 5, 10), exclude_self=False, device=None, **kw):
    """The learner's {k: recall} (a dict with int keys comes back by handle; read it key by key)."""
    output = learner.call("recall_at_k", *args, ks=tuple(ks), exclude_self=exclude_self, device=device,
                          **kw).output
    if isinstance(output, dict):
        raise AssertionError(f"recall_at_k must return a dict keyed by the int k, got keys {list(output)[:5]}")
    if not isinstance(output, Handle) or output.type != "dict":
        kind = getattr(output, "type", type(output).__name__)
        raise AssertionError(f"recall_at_k must return a dict {{k: recall}}, got {kind}")
    try:
        wanted = sorted(set(int(k) for k in ks))
        size = learner.call((output, "__len__")).output
        present = learner.call_many((output, "__contains__"), [[k] for k in wanted])
        if size != len(wanted) or not all(p is True for p in present):
            raise AssertionError(f"recall_at_k must return exactly the keys {wanted} (the ks asked for), "
                                 f"got {size} key(s)")
        values = learner.call_many((output, "__getitem__"), [[k] for k in wanted])
    finally:
        learner.release(output)
    return {k: as_float(v, f"recall@{k}") for k, v in zip(wanted, values)}


def mrr_of(learner, *args, exclude_self=False, device=None, **kw):
    output = learner.call("mean_reciprocal_rank", *args, exclude_self=exclude_self, device=device, **kw).output
    return as_float(output, "mean_reciprocal_rank")


def assert_recall_and_mrr(learner, args, ks, exclude_self, slack, device=None, what=""):
    found, lo, hi = rank_brackets(*args, exclude_self, slack)
    got = recall_of(learner, *args, ks=ks, exclude_self=exclude_self, device=device)
    for k in sorted(set(ks)):
        assert_within(got[k], recall_bounds(found, lo, hi, k), f"recall@{k}{what}")
    assert_within(mrr_of(learner, *args, exclude_self=exclude_self, device=device), mrr_bounds(found, lo, hi),
                  f"mean_reciprocal_rank{what}")


# -- k-NN -----------------------------------------------------------------------------------
def knn_accepted(train, train_labels, test, k, temperature, slack):
    """Per test item, the set of class ids a correct answer may give: the class with the largest
    vote, and any within rounding of it; every class where the k-th neighbour is a near-tie."""
    sims = F.normalize(test.double(), dim=1) @ F.normalize(train.double(), dim=1).T   # (T, N)
    k = min(k, train.shape[0])
    ordered = sims.sort(dim=1, descending=True).values
    classes = torch.unique(train_labels)
    accepted = []
    for row, sorted_row in zip(sims, ordered):
        if k < len(sorted_row) and sorted_row[k - 1] - sorted_row[k] <= 2 * slack:
            accepted.append(set(classes.tolist()))
            continue
        top = row.topk(k)
        weights = torch.exp((top.values - top.values[0]) / temperature)
        votes = torch.zeros(len(classes), dtype=torch.float64).scatter_add_(
            0, torch.searchsorted(classes, train_labels[top.indices]), weights)
        margin = votes.max() * (1 - torch.exp(torch.tensor(-4 * slack / temperature))) + 1e-12
        accepted.append(set(classes[votes >= votes.max() - margin].tolist()))
    return accepted


def assert_knn(got, accepted, what):
    predictions = as_tensor(got, "knn_classify's output")
    if predictions.shape != (len(accepted),):
        raise AssertionError(f"{what}: expected a tensor of shape ({len(accepted)},), got {tuple(predictions.shape)}")
    if predictions.is_floating_point():
        raise AssertionError(f"{what}: expected integer class ids (torch.long), got {predictions.dtype}")
    wrong = [i for i, (p, ok) in enumerate(zip(predictions.tolist(), accepted)) if p not in ok]
    if wrong:
        i = wrong[0]
        raise AssertionError(f"{what}: {len(wrong)} of {len(accepted)} predictions differ from the weighted vote; "
                             f"test item {i}: expected {sorted(accepted[i])[0] if len(accepted[i]) == 1 else sorted(accepted[i])}, "
                             f"got {predictions[i].item()}")


# -- interface ----------------------------------------------------------------
@check("interface")
def check_rejects_bad_inputs(learner):
    q, g = torch.randn(4, 3), torch.randn(6, 3)
    ql, gl = torch.arange(4), torch.arange(6)
    bad = [((q, torch.randn(6, 5), ql, gl), {}, "query and gallery of different D"),
           ((q, g, torch.arange(3), gl), {}, "3 query labels for 4 queries"),
           ((q, g, ql, torch.arange(5)), {}, "5 gallery labels for 6 items"),
           ((q[0], g, ql[:1], gl), {}, "a 1-D query"),
           ((q, g, ql, gl), {"exclude_self": True}, "exclude_self with N=4 queries and M=6 gallery items")]
    for name in ("recall_at_k", "mean_reciprocal_rank"):
        for args, kw, what in bad:
            with learner_raises("ValueError", what=f"{name} with {what}"):
                learner.call(name, *args, **kw)
    for ks in ((0,), (1, -5), ()):
        with learner_raises("ValueError", what=f"ks={ks}"):
            learner.call("recall_at_k", q, g, ql, gl, ks=ks)


@check("interface")
def check_knn_rejects_bad_inputs(learner):
    train, test, tl = torch.randn(6, 3), torch.randn(4, 3), torch.arange(6)
    for kw, what in (({"k": 0}, "k=0"), ({"temperature": 0.0}, "temperature=0"),
                     ({"temperature": -0.1}, "temperature=-0.1"), ({"temperature": float("nan")}, "temperature=nan"),
                     ({"temperature": float("inf")}, "temperature=inf")):
        with learner_raises("ValueError", what=what):
            learner.call("knn_classify", train, tl, test, **kw)
    for args, what in (((train, tl[:5], test), "5 labels for 6 training items"),
                       ((train, tl, torch.randn(4, 5)), "test features of another D")):
        with learner_raises("ValueError", what=what):
            learner.call("knn_classify", *args)


# -- correctness --------------------------------------------------------------
def worked_example():
    gallery = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    gallery_labels = torch.tensor([0, 1, 1, 0])
    query = torch.tensor([[2.0, 1.0], [1.0, -1.0], [0.0, 3.0], [-1.0, 1.0]])
    query_labels = torch.tensor([1, 1, 2, 1])
    return query, gallery, query_labels, gallery_labels


@check("correctness")
def check_worked_example_from_spec(learner):
    query, gallery, ql, gl = worked_example()
    got = recall_of(learner, query, gallery, ql, gl, ks=(1, 2, 3))
    for k, want in ((1, 0.25), (2, 0.75), (3, 0.75)):
        assert_within(got[k], (want, want), f"recall@{k} of the spec's example")
    assert_within(mrr_of(learner, query, gallery, ql, gl), (0.5, 0.5), "mean_reciprocal_rank of the spec's example")
    got = recall_of(learner, gallery, gallery, gl, gl, ks=(1, 2), exclude_self=True)
    assert_within(got[1], (0.25, 0.25), "recall@1 of the spec's example with exclude_self=True")
    assert_within(got[2], (0.5, 0.5), "recall@2 of the spec's example with exclude_self=True")
    assert_within(mrr_of(learner, gallery, gallery, gl, gl, exclude_self=True), (13 / 24, 13 / 24),
                  "mean_reciprocal_rank of the spec's example with exclude_self=True")
    for test, k, want in (([[1.0, 0.1]], 3, 0), ([[-1.0, 1.0]], 2, 0), ([[2.0, 1.0]], 2, 1)):
        out = learner.call("knn_classify", gallery, gl, torch.tensor(test), k=k, temperature=0.1).output
        assert_knn(out, [{want}], f"knn_classify of the spec's example {test[0]} with k={k}")


@check("correctness")
def check_defaults(learner):
    query, gallery, ql, gl = retrieval_case(5, 40, 60, 8, 4, torch.float64, False)
    found, lo, hi = rank_brackets(query, gallery, ql, gl, False, COS_SLACK[torch.float64])
    got = learner.call("recall_at_k", query, gallery, ql, gl).output
    if not isinstance(got, Handle):
        raise AssertionError("recall_at_k with the default ks must return a dict {1: ., 5: ., 10: .}")
    learner.release(got)
    got = recall_of(learner, query, gallery, ql, gl)
    for k in (1, 5, 10):
        assert_within(got[k], recall_bounds(found, lo, hi, k), f"recall@{k} with the default ks (1, 5, 10)")
    out = learner.call("mean_reciprocal_rank", query, gallery, ql, gl).output
    assert_within(as_float(out, "mean_reciprocal_rank"), mrr_bounds(found, lo, hi),
                  "mean_reciprocal_rank with exclude_self left at its default (False)")
    train, tl = features(6, 300, 8), labels(7, 300, 5)
    test = features(8, 40, 8)
    assert_knn(learner.call("knn_classify", train, tl, test).output,
               knn_accepted(train, tl, test, 20, 0.07, COS_SLACK[torch.float64]),
               "knn_classify with the defaults k=20, temperature=0.07")


@check("correctness")
@examples(20)
@given(n=st.integers(1, 48), m=st.integers(1, 64), d=st.integers(2, 16), classes=st.integers(1, 8),
       ks=st.lists(st.integers(1, 12), min_size=1, max_size=4), same_set=st.booleans(),
       dtype=float_dtype_names, seed=seeds)
def check_recall_and_mrr_match(learner, device, n, m, d, classes, ks, same_set, dtype, seed):
    torch_dtype = FLOAT_DTYPES[dtype]
    args = retrieval_case(seed, n, m, d, classes, torch_dtype, same_set)
    assert_recall_and_mrr(learner, args, ks, False, COS_SLACK[torch_dtype], device)
    if same_set:
        assert_recall_and_mrr(learner, args, ks, True, COS_SLACK[torch_dtype], device, " with exclude_self=True")


@check("correctness")
def check_query_left_in_its_own_gallery(learner):
    # the same set without exclude_self: every query finds itself first (recall@1 = 1, MRR = 1);
    # with it, never: all labels distinct leaves no relevant item at all (0 and 0)
    query, _, ql, _ = retrieval_case(11, 30, 30, 8, 3, torch.float32, True)
    assert_recall_and_mrr(learner, (query, query, ql, ql), (1, 3), False, 0.0, what=" of the same set, exclude_self=False")
    assert_recall_and_mrr(learner, (query, query, ql, ql), (1, 3), True, COS_SLACK[torch.float32],
                         what=" of the same set with exclude_self=True (the query is never its own neighbour)")
    distinct = torch.arange(30)
    got = recall_of(learner, query, query, distinct, distinct, ks=(1, 50), exclude_self=True)
    assert_within(got[1], (0.0, 0.0), "recall@1 with exclude_self=True where no other item shares a label")
    assert_within(got[50], (0.0, 0.0), "recall@50 with exclude_self=True where no other item shares a label")


@check("correctness")
def check_ties_count_against_the_query(learner):
    # exact cosines: unit axes and (+-1, +-1, +-1, +-1) / 2 have dot products in multiples of 1/4
    axes = torch.eye(4)
    halves = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]]) / 2
    gallery = torch.cat([axes, axes, halves])             # every axis twice: exact duplicates
    gallery_labels = torch.tensor([0, 1, 2, 3, 4, 1, 6, 3, 0, 2, 1])
    query = torch.cat([axes, halves])
    query_labels = torch.tensor([0, 1, 2, 9, 5, 1, 7])
    for dtype in (torch.float32, torch.float64):
        args = (query.to(dtype), gallery.to(dtype), query_labels, gallery_labels)
        found, lo, hi = rank_brackets(*args, False, 0.0)
        got = recall_of(learner, *args, ks=(1, 2, 3))
        for k in (1, 2, 3):
            assert_within(got[k], recall_bounds(found, lo, hi, k),
                          f"recall@{k} with exact ties between relevant and non-relevant items "
                          f"({dtype}; ties count against the query)")
        assert_within(mrr_of(learner, *args), mrr_bounds(found, lo, hi),
                      f"mean_reciprocal_rank with exact ties ({dtype}; ties count against the query)")


@check("correctness")
def check_several_relevant_items_and_none(learner):
    # query 0 has three relevant items at ranks 2, 3, 5: only the first counts (rank 2);
    # query 1's label is absent from the gallery: a miss for every k and 0 in the mean
    gallery = torch.tensor([[1.0, 0.0], [0.9, 0.5], [0.7, 0.7], [0.3, 0.95], [0.0, 1.0], [-1.0, 0.2]],
                           dtype=torch.float64)
    gallery_labels = torch.tensor([4, 8, 8, 4, 8, 4])
    query = torch.tensor([[1.0, 0.05], [0.2, 1.0]], dtype=torch.float64)
    query_labels = torch.tensor([8, 5])
    got = recall_of(learner, query, gallery, query_labels, gallery_labels, ks=(1, 2, 6, 100))
    for k, want in ((1, 0.0), (2, 0.5), (6, 0.5), (100, 0.5)):
        assert_within(got[k], (want, want), f"recall@{k} (query 0's first relevant item is 2nd; query 1 has none)")
    assert_within(mrr_of(learner, query, gallery, query_labels, gallery_labels), (0.25, 0.25),
                  "mean_reciprocal_rank: (1/2 + 0) / 2, a query without a relevant item adds 0")


@check("correctness")
@examples(15)
@given(n_train=st.integers(1, 80), n_test=st.integers(1, 30), d=st.integers(2, 16), classes=st.integers(1, 6),
       k=st.integers(1, 25), temperature=st.sampled_from([0.01, 0.07, 0.1, 0.5, 1.0]), dtype=float_dtype_names,
       seed=seeds)
def check_knn_matches_weighted_vote(learner, device, n_train, n_test, d, classes, k, temperature, dtype, seed):
    torch_dtype = FLOAT_DTYPES[dtype]
    _, train, _, train_labels = retrieval_case(seed, n_train, n_train, d, classes, torch_dtype, True)
    test = (features(seed + 9, n_test, d) * 1.5).to(torch_dtype)
    got = learner.call("knn_classify", train, train_labels, test, k=k, temperature=temperature, device=device).output
    assert_knn(got, knn_accepted(train, train_labels, test, k, temperature, COS_SLACK[torch_dtype]),
               f"knn_classify(k={k}, temperature={temperature})")


@check("correctness")
def check_knn_vote_weights_and_ties(learner):
    train = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    train_labels = torch.tensor([40, 7, 7, 7, -2])
    test = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    # one very close neighbour of class 40 against two farther ones of class 7: the weights
    # exp(cos / t) decide (a plain majority says 7 at every temperature)
    for temperature, want in ((0.05, 40), (1.0, 7)):
        got = learner.call("knn_classify", train, train_labels, test, k=3, temperature=temperature).output
        assert_knn(got, [{want}], f"knn_classify with k=3, temperature={temperature} (weights exp(cos/t))")
    # two neighbours at exactly the same cosine with different labels: the smaller id wins
    tie_train = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]])
    tie_test = torch.tensor([[0.0, 1.0, 1.0]])
    for tie_labels, want in (([5, 3, 9], 3), ([3, 5, 9], 3), ([-1, 12, 9], -1)):
        got = learner.call("knn_classify", tie_train, torch.tensor(tie_labels), tie_test, k=2, temperature=0.07).output
        assert_knn(got, [{want}], f"knn_classify with an exact tie in the vote between classes {tie_labels[:2]} "
                                  f"(the smaller class id wins)")


@check("correctness")
def check_k_larger_than_the_gallery(learner):
    query, gallery, ql, gl = retrieval_case(13, 12, 9, 4, 3, torch.float64, False)
    assert_recall_and_mrr(learner, (query, gallery, ql, gl), (1, 9, 50), False, COS_SLACK[torch.float64],
                         what=" with k beyond the gallery size (9)")
    train, tl = gallery, gl
    got = learner.call("knn_classify", train, tl, query, k=50, temperature=0.5).output
    assert_knn(got, knn_accepted(train, tl, query, 50, 0.5, COS_SLACK[torch.float64]),
               "knn_classify with k=50 and 9 training items (all of them vote)")


# -- properties -----------------------------------------------------------------
@check("properties")
@examples(10)
@given(n=st.integers(2, 32), m=st.integers(2, 48), d=st.integers(2, 8), classes=st.integers(1, 5), seed=seeds)
def check_invariant_to_order_and_scale(learner, n, m, d, classes, seed):
    query, gallery, ql, gl = retrieval_case(seed, n, m, d, classes, torch.float64, False)
    perm = torch.randperm(m, generator=torch.Generator().manual_seed(seed))
    scale = torch.linspace(0.01, 100.0, m, dtype=torch.float64)[:, None]
    base = recall_of(learner, query, gallery, ql, gl, ks=(1, 3))
    moved = recall_of(learner, query * 3, (gallery * scale)[perm], ql, gl[perm], ks=(1, 3))
    for k in (1, 3):
        assert_within(moved[k], (base[k], base[k]), f"recall@{k} after permuting and rescaling the gallery")
    train_perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))
    out = as_tensor(learner.call("knn_classify", query, ql, gallery, k=3, temperature=0.1).output, "knn")
    again = learner.call("knn_classify", (query * 5)[train_perm], ql[train_perm], gallery, k=3, temperature=0.1).output
    accepted = knn_accepted(query, ql, gallery, 3, 0.1, COS_SLACK[torch.float64])
    assert_knn(out, accepted, "knn_classify")
    assert_knn(again, accepted, "knn_classify after permuting and rescaling the training items")


# -- numerical stability ---------------------------------------------------------------
@check("stability")
def check_knn_low_temperature_float32(learner, device):
    # exp(cos / 0.01) reaches e^100, beyond float32's largest value (3.4e38, about e^88.7)
    _, train, _, tl = retrieval_case(17, 400, 400, 16, 6, torch.float32, True)
    test = train[:64] + 0.05 * features(18, 64, 16, torch.float32)   # near neighbours: cosines ~0.99
    for temperature in (0.01, 0.02):
        got = learner.call("knn_classify", train, tl, test, k=20, temperature=temperature, device=device).output
        assert_knn(got, knn_accepted(train, tl, test, 20, temperature, COS_SLACK[torch.float32]),
                   f"knn_classify at temperature {temperature} in float32")
    # each test item has two neighbours above cosine 0.9 (exp(cos / 0.01) > e^90 = inf in float32):
    # the nearer one, class 7, must win over class 3 (with inf weights they would tie)
    bases = F.normalize(features(19, 32, 16), dim=1)
    near = bases + 0.01 * features(20, 32, 16)
    farther = bases + 0.08 * features(21, 32, 16)
    pairs = torch.cat([near, farther]).float()
    pair_labels = torch.cat([torch.full((32,), 7), torch.full((32,), 3)])
    got = learner.call("knn_classify", pairs, pair_labels, bases.float(), k=20, temperature=0.01, device=device).output
    assert_knn(got, knn_accepted(pairs, pair_labels, bases.float(), 20, 0.01, COS_SLACK[torch.float32]),
               "knn_classify at temperature 0.01 in float32 where two neighbours of different classes have "
               "cosines above 0.9 (subtract the row's largest cosine before exp)")


@check("stability")
def check_extreme_norms(learner, device):
    query, gallery, ql, gl = retrieval_case(19, 40, 60, 8, 4, torch.float32, False)
    for scale in (1e-6, 1e6):
        args = (query * scale, gallery * scale, ql, gl)
        assert_recall_and_mrr(learner, args, (1, 5), False, COS_SLACK[torch.float32], device,
                             f" for features of norm ~{scale:g}")
        got = learner.call("knn_classify", gallery * scale, gl, query * scale, k=5, temperature=0.07,
                           device=device).output
        assert_knn(got, knn_accepted(gallery, gl, query, 5, 0.07, COS_SLACK[torch.float32]),
                   f"knn_classify for features of norm ~{scale:g}")


# -- hygiene ----------------------------------------------------------------------
@check("hygiene")
def check_inputs_not_modified(learner, device):
    query, gallery, ql, gl = retrieval_case(21, 10, 12, 5, 3, torch.float32, False)
    for name, args, kw in (("recall_at_k", (query, gallery, ql, gl), {}),
                           ("mean_reciprocal_rank", (query, gallery, ql, gl), {}),
                           ("recall_at_k", (gallery, gallery, gl, gl), {"exclude_self": True}),
                           ("knn_classify", (gallery, gl, query), {"k": 3})):
        result = learner.call(name, *args, device=device, return_inputs=True, **kw)
        if isinstance(result.output, Handle):
            learner.release(result.output)
        for sent, after in zip(args, result.inputs_after):
            if not torch.equal(after.tensor, sent):
                raise AssertionError(f"{name} modified one of its inputs in place; the spec forbids it")


@check("hygiene")
def check_result_types(learner, device):
    query, gallery, ql, gl = retrieval_case(23, 10, 12, 5, 3, torch.float32, False)
    got = recall_of(learner, query, gallery, ql, gl, ks=(2, 1), device=device)
    for k, v in got.items():
        if not 0.0 <= v <= 1.0:
            raise AssertionError(f"recall@{k} must be a fraction in [0, 1], got {v}")
    raw = learner.call("recall_at_k", query, gallery, ql, gl, ks=(1,), device=device).output
    try:
        value = learner.call((raw, "__getitem__"), 1).output
    finally:
        learner.release(raw)
    if isinstance(value, bool) or not isinstance(value, float):
        raise AssertionError(f"recall_at_k's values must be Python floats, got {getattr(value, 'type', type(value).__name__)}")
    mrr = learner.call("mean_reciprocal_rank", query, gallery, ql, gl, device=device).output
    if isinstance(mrr, bool) or not isinstance(mrr, float):
        raise AssertionError(f"mean_reciprocal_rank must return a Python float, got {getattr(mrr, 'type', type(mrr).__name__)}")
    out = learner.call("knn_classify", gallery, gl, query, k=3, device=device).output
    predictions = as_tensor(out, "knn_classify's output")
    if predictions.dtype != torch.long or predictions.shape != (10,) or out.device != torch.device(device).type:
        raise AssertionError(f"knn_classify must return a torch.long tensor of shape (10,) on {device}, got "
                             f"{predictions.dtype} {tuple(predictions.shape)} on {out.device}")


# -- speed ------------------------------------------------------------------------
def _speed_args(seed, name, n, m, d):
    query, gallery, ql, gl = retrieval_case(seed, n, m, d, 50, torch.float32, False)
    if name == "knn_classify":
        return [gallery, gl, query]
    return [query, gallery, ql, gl]


def _read_recall(side, output):
    if not isinstance(output, Handle) or output.type != "dict":
        raise AssertionError(f"recall_at_k must return a dict, got {getattr(output, 'type', type(output).__name__)}")
    try:
        return [as_float(v, "recall") for v in side.call_many((output, "__getitem__"), [[1], [5], [10]])]
    finally:
        side.release(output)


def _verify(name, learner, reference_child):
    def verify(mine, theirs):
        if name == "knn_classify":
            a, b = as_tensor(mine.output, "knn_classify's output"), as_tensor(theirs.output, "reference")
            # near-ties aside, the predictions must agree
            if a.shape != b.shape or (a != b).double().mean().item() > 0.01:
                raise AssertionError("knn_classify's predictions differ from the reference's at the speed check's size")
            return
        if name == "mean_reciprocal_rank":
            got, want = [as_float(mine.output, name)], [as_float(theirs.output, name)]
        else:
            got, want = _read_recall(learner, mine.output), _read_recall(reference_child, theirs.output)
        if any(abs(a - b) > 1e-3 for a, b in zip(got, want)):
            raise AssertionError(f"{name} differs from the reference's at the speed check's size: {got} vs {want}")
    return verify


def _time_one(learner, reference_child, device, seed, setting):
    name, n, m, d = setting
    kwargs = {"ks": (1, 5, 10)} if name == "recall_at_k" else {}
    return compare_speed(learner.on(device), reference_child.on(device), name,
                         lambda rep: _speed_args(seed * 1000 + rep, name, n, m, d), grad=None,
                         kwargs=kwargs, verify=_verify(name, learner, reference_child), max_ratio=SPEED_LIMIT)


@check("speed")
def check_speed_vs_reference(learner, reference_child, device, seed, record_property):
    record_property("message", compare_at_each(
        SPEED_SETTINGS, lambda s: f"{s[0]} N={s[1]}, M={s[2]}, D={s[3]}",
        lambda s: _time_one(learner, reference_child, device, seed, s)))


# -- memory (last: a budgeted call fixes the child's malloc threshold for good, see
# child._return_large_blocks, which would slow the learner's side of a later speed check) ----
def _memory_inputs():
    gen = torch.Generator().manual_seed(29)
    centers = torch.randn(MEMORY_CLASSES, MEMORY_D, generator=gen) * 1.5
    ids = torch.randint(0, MEMORY_CLASSES, (MEMORY_N,), generator=gen)
    return centers[ids] + torch.randn(MEMORY_N, MEMORY_D, generator=gen), ids


def _within_budget(learner, name, args, kwargs, device):
    try:
        return learner.call(name, *args, device=device, memory_budget=MEMORY_BUDGET,
                            allow_slow=True, **kwargs).output
    except LearnerRaised as exc:
        if exc.kind != "memory":
            raise
        n, m = (len(args[2]), len(args[0])) if name == "knn_classify" else (len(args[0]), len(args[1]))
        raise AssertionError(
            f"{name} at {n:,} x {m:,} needed more than {MEMORY_BUDGET // 2**20} MiB beyond its inputs "
            f"(the float32 similarity matrix alone is {n * m * 4 / 1e9:.1f} GB): process the queries in "
            f"chunks so that no (N, M) tensor, not even a boolean mask, ever exists") from None


@check("hygiene")
def check_memory_stays_bounded(learner, device):
    feats, ids = _memory_inputs()
    args = (feats, feats, ids, ids)
    got = _within_budget(learner, "recall_at_k", args, {"ks": (1, 10), "exclude_self": True}, device)
    if isinstance(got, Handle):
        learner.release(got)
    mrr = _within_budget(learner, "mean_reciprocal_rank", args, {"exclude_self": True}, device)
    as_float(mrr, "mean_reciprocal_rank")
    test = feats[:MEMORY_KNN_TEST] + 0.1
    _within_budget(learner, "knn_classify", (feats, ids, test), {"k": 20}, device)
