"""Hidden checks for info_nce(query, positive_key, negative_keys=None, temperature=0.1, negative_mode="unpaired")."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.api import as_tensor, assert_close, check, examples, learner_raises
from grader.compare import normalize_backward_noise
from grader.loss_checks import Loss
from grader.strategies import InfoNceCase, info_nce_cases, seeds
from grader.timing import WithFreshTensor

# Once the loss's values differ from the reference, these checks would report the same bug
# again (gradients, invariances and speed of a wrong loss): they wait for matches_reference.
CATEGORY_DEPENDS = {category: ("matches_reference",)
                    for category in ("gradients", "properties", "stability", "speed")}
# A batch of queries against a shared queue of negatives that needs no gradient (MoCo's setup),
# timed at two shapes (N, M): each loop over one dimension is cheap where the other is long.
# A long queue with few queries shows a loop over the queue's rows (6.6-7.2x in the grader here);
# a large batch with a shorter queue shows a loop over the queries (7.5x), which is only 3-5x at
# N=256, M=16384.
# Then a few paired negatives per query (DPR's hard negatives), gradients to all three inputs:
# a loop over the queries in paired mode only is 19x there.
SPEED_SETTINGS = (("unpaired", 64, 16384, 128), ("unpaired", 1024, 4096, 128), ("paired", 2048, 8, 64))
SPEED_T, SPEED_LIMIT = 0.07, 3.0
NAMES = ("query", "positive_key", "negative_keys")


def call_args(case: InfoNceCase, tensors=None):
    """Positional arguments for a case; in-batch cases leave negative_mode at its default."""
    q, k, neg = case.tensors() if tensors is None else tensors
    if neg is None:
        return [q, k, None, case.temperature]
    return [q, k, neg, case.temperature, case.negative_mode]


def grad_indices(args):
    return [0, 1] if args[2] is None else [0, 1, 2]


def normalize_noise(args):
    """Extra gradient tolerance per input row: ulps of |x|^-1 times the total |dL/dlogit| the row
    takes part in, from an exact float64 pass. At D = 1 the true gradient is 0 and float32
    returns rounding noise that differs between correct formulations (normalize, or
    cosine_similarity, whose per-pair terms cancel one by one)."""
    q, k, neg, t = args[0], args[1], args[2], args[3]
    inputs = [q, k] if neg is None else [q, k, neg]
    units = [F.normalize(x.double(), dim=-1) for x in inputs]
    if neg is None:                                                        # in-batch
        logits = (units[0] @ units[1].T / t).requires_grad_(True)          # (N, N)
        target = torch.arange(q.shape[0])
    else:
        pos = (units[0] * units[1]).sum(-1, keepdim=True)                  # (N, 1)
        paired = len(args) > 4 and args[4] == "paired"
        negs = torch.einsum("nd,nmd->nm", units[0], units[2]) if paired else units[0] @ units[2].T  # (N, M)
        logits = (torch.cat([pos, negs], dim=1) / t).requires_grad_(True)  # (N, 1 + M)
        target = torch.zeros(q.shape[0], dtype=torch.long)
    (g,) = torch.autograd.grad(F.cross_entropy(logits, target), logits)
    g = g.abs() / t
    if neg is None:
        scales = [g.sum(1), g.sum(0)]
    else:
        scales = [g.sum(1), g[:, 0], g[:, 1:].reshape(-1) if paired else g[:, 1:].sum(0)]
    return [normalize_backward_noise(sc, x.reshape(-1, x.shape[-1]), x.dtype).reshape(*x.shape[:-1], 1)
            for sc, x in zip(scales, inputs)]


LOSS = Loss("info_nce", names=NAMES + ("temperature", "negative_mode"), args_of=call_args,
            label_of=lambda case: f" ({case.mode})", wrt=grad_indices,
            noise=lambda args: (1 / args[3], normalize_noise(args)))


def loss_of(learner, args, device=None, **kw):
    return LOSS.call(learner, args, device, **kw)


def expected(reference, args):
    return LOSS.expected(reference, args)


# -- interface ----------------------------------------------------------------
@check("interface")
def check_rejects_mismatched_query_and_key(learner):
    r = torch.randn
    bad = [((3, 4), (3, 5)), ((3, 4), (2, 4)), ((4,), (4,)), ((2, 3, 4), (2, 3, 4))]
    for s1, s2 in bad:
        with learner_raises("ValueError", what=f"query {s1} and positive_key {s2}"):
            learner.call("info_nce", r(s1), r(s2), None, 0.1)


@check("interface")
def check_rejects_negatives_that_do_not_fit_the_mode(learner):
    q, k = torch.randn(3, 4), torch.randn(3, 4)
    bad = [("unpaired", (3, 5, 4)), ("unpaired", (5, 3)), ("unpaired", (5,)),
           ("paired", (5, 4)), ("paired", (2, 5, 4)), ("paired", (3, 5, 6)),
           ("paired", (1, 5, 4))]   # broadcasting one set of negatives to every query is not "paired"
    for mode, shape in bad:
        with learner_raises("ValueError", what=f"negative_mode={mode!r} with negative_keys of shape {shape} "
                                               f"for query (3, 4)"):
            learner.call("info_nce", q, k, torch.randn(shape), 0.1, mode)


@check("interface")
def check_rejects_unknown_mode(learner):
    q, k = torch.randn(3, 4), torch.randn(3, 4)
    for mode, neg in (("pairs", torch.randn(3, 2, 4)), ("shared", torch.randn(5, 4)), ("in-batch", None)):
        with learner_raises("ValueError", what=f"negative_mode={mode!r}"):
            learner.call("info_nce", q, k, neg, 0.1, mode)


check_rejects_nonpositive_temperature = LOSS.rejects("ValueError", [
    (f"temperature={t}", [torch.randn(3, 4), torch.randn(3, 4), None, t]) for t in (0.0, -0.1)])


@check("interface")
def check_accepts_keyword_arguments(learner, reference):
    q, k, neg = InfoNceCase(3, 4, 5, "paired", 0.2, "float64", 4).tensors()
    got = learner.call("info_nce", query=q, positive_key=k, negative_keys=neg, temperature=0.2,
                       negative_mode="paired").output
    assert_close(got, reference.info_nce(q, k, neg, 0.2, "paired"), "loss called with keyword arguments")


# -- correctness --------------------------------------------------------------
def worked_example():
    d = torch.float64
    query = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=d)
    positive = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=d)
    shared = torch.tensor([[-1.0, 0.0], [3.0, 4.0]], dtype=d)
    paired = torch.tensor([[[-1.0, 0.0], [3.0, 4.0]], [[0.0, -5.0], [1.0, 0.0]]], dtype=d)
    return query, positive, shared, paired


def _worked_examples():
    q, k, shared, paired = worked_example()
    return [(f"loss of the {what} worked example", args, value)
            for what, args, value in (("in-batch", [q, k, None, 0.5], 0.3300846501),
                                      ("unpaired", [q, k, shared, 0.5, "unpaired"], 0.6003658453),
                                      ("paired", [q, k, paired, 0.5, "paired"], 0.3763698649))]


check_worked_example_from_spec = LOSS.worked_example(_worked_examples(), rtol=1e-8, atol=1e-9)


@check("correctness")
def check_defaults(learner, reference):
    q, k, neg = InfoNceCase(5, 6, 7, "unpaired", 0.1, "float64", 1).tensors()
    got = learner.call("info_nce", q, k, neg).output
    assert_close(got, reference.info_nce(q, k, neg, 0.1, "unpaired"),
                 "loss with the defaults (temperature 0.1, negative_mode 'unpaired')")
    got = learner.call("info_nce", q, k).output
    assert_close(got, reference.info_nce(q, k, None, 0.1), "in-batch loss with the default temperature 0.1")


@check("correctness")
def check_single_query_in_batch_has_zero_loss(learner):
    # with N = 1 and no negative_keys the positive is the only logit
    got = loss_of(learner, [torch.tensor([[1.0, 2.0]]), torch.tensor([[-3.0, 0.5]]), None, 0.1]).output
    assert_close(got, torch.tensor(0.0), "in-batch loss for N=1")


check_matches_reference = LOSS.matches_reference(info_nce_cases(), examples_n=30)


# -- gradients ----------------------------------------------------------------
check_gradients_match_reference = LOSS.gradients_match_reference(
    info_nce_cases(n=st.integers(1, 24), m=st.integers(1, 24), d=st.integers(1, 32)), examples_n=20)
check_gradcheck_float64 = LOSS.gradcheck_float64([call_args(case) for case in (
    InfoNceCase(3, 2, 4, "in-batch", 0.5, "float64", 7), InfoNceCase(2, 3, 3, "unpaired", 0.2, "float64", 8),
    InfoNceCase(2, 2, 3, "paired", 1.0, "float64", 9))])


# -- properties -----------------------------------------------------------------
@check("properties")
@examples(10)
@given(case=info_nce_cases(n=st.integers(1, 16), m=st.integers(1, 16), d=st.integers(2, 32)),
       factor_seed=seeds)
def check_invariant_to_scaling_vectors(learner, case, factor_seed):
    args = call_args(case)
    gen = torch.Generator().manual_seed(factor_seed)
    scaled = list(args)
    for i in grad_indices(args):
        t = args[i]
        factor = torch.empty(*t.shape[:-1], 1, dtype=torch.float64).uniform_(0.1, 100.0, generator=gen)
        scaled[i] = t * factor.to(t.dtype)
    base = as_tensor(loss_of(learner, args).output, "loss")
    got = loss_of(learner, scaled).output
    assert_close(got, base, f"loss after scaling every vector by a positive factor ({case.mode}; cosine "
                 "ignores length)", case.torch_dtype)


@check("properties")
@examples(10)
@given(case=info_nce_cases(n=st.integers(2, 16), m=st.integers(1, 16), d=st.integers(1, 32)), perm_seed=seeds)
def check_invariant_to_permuting_rows(learner, case, perm_seed):
    # rows: the same permutation of queries, their positives and (paired) their negative sets;
    # negatives: their order within a set does not matter either
    args = call_args(case)
    gen = torch.Generator().manual_seed(perm_seed)
    perm = torch.randperm(case.n, generator=gen)
    moved = list(args)
    moved[0], moved[1] = args[0][perm], args[1][perm]
    neg = args[2]
    if case.mode == "unpaired":
        moved[2] = neg[torch.randperm(case.m, generator=gen)]
    elif case.mode == "paired":
        within = torch.stack([torch.randperm(case.m, generator=gen) for _ in range(case.n)])
        moved[2] = torch.gather(neg[perm], 1, within[:, :, None].expand(-1, -1, case.d))
    base = as_tensor(loss_of(learner, args).output, "loss")
    got = loss_of(learner, moved).output
    assert_close(got, base, f"loss after permuting the queries with their positives and the negatives "
                 f"({case.mode})", case.torch_dtype)


@check("properties")
@examples(10)
@given(n=st.integers(1, 8), m=st.integers(1, 8), mode=st.sampled_from(["in-batch", "unpaired", "paired"]),
       cosine=st.floats(-1.0, 1.0), temperature=st.sampled_from([0.05, 0.1, 0.5, 1.0, 5.0]), seed=seeds)
def check_closed_form_on_orthonormal_features(learner, n, m, mode, cosine, temperature, seed):
    # queries u_i, positives c u_i + sqrt(1 - c^2) v_i, negatives w_j: all u, v, w orthonormal, so every
    # logit is c / t (the positive) or 0 (the R others): loss = log(1 + R exp(-c / t))
    gen = torch.Generator().manual_seed(seed)
    dim = 2 * n + m + 3
    basis, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=torch.float64))
    u, v, w = basis[:n], basis[n:2 * n], basis[2 * n:2 * n + m]
    query = u * torch.empty(n, 1, dtype=torch.float64).uniform_(0.5, 2.0, generator=gen)
    positive = cosine * u + math.sqrt(max(1.0 - cosine**2, 0.0)) * v
    if mode == "in-batch":
        args, others = [query, positive, None, temperature], n - 1
    elif mode == "unpaired":
        args, others = [query, positive, w, temperature, "unpaired"], m
    else:
        sets = torch.stack([w[torch.randperm(m, generator=gen)] for _ in range(n)])
        args, others = [query, positive, sets, temperature, "paired"], m
    want = torch.tensor(math.log1p(others * math.exp(-cosine / temperature)), dtype=torch.float64)
    got = loss_of(learner, args).output
    assert_close(got, want, f"loss on orthonormal features ({mode}, {others} other logits at 0, cosine "
                 f"{cosine:g} to the positive, t={temperature:g}): log(1 + {others} exp(-c / t))",
                 rtol=1e-7, atol=1e-9)


# -- numerical stability ---------------------------------------------------------------
@check("stability")
def check_low_temperature_float32(learner, reference, device):
    for case in (InfoNceCase(32, 64, 16, "unpaired", 0.01, "float32", 3),
                 InfoNceCase(32, 8, 16, "paired", 0.01, "float32", 4),
                 InfoNceCase(32, 1, 16, "in-batch", 0.01, "float32", 5)):
        LOSS.assert_grads_match(learner, reference, call_args(case), device, noise=(100, None),
                                value_what=f"loss at temperature 0.01 ({case.mode})")


def spread_rows(mode, seed=21, n=12, m=9, d=8):
    """float32 arguments at t = 0.01 whose rows' logits lie in very different ranges.

    Every key (positive and negative) points near one direction e; query i has cosine c_i to e, with
    c_i from 1 down to -1, so row i's logits sit near 100 c_i: the largest logit of the batch is near
    100 and the largest of the last row near -85. A log-sum-exp shifted by the batch's maximum
    instead of each row's own underflows there (exp(-180) is 0 in float32).
    """
    gen = torch.Generator().manual_seed(seed)
    e = torch.zeros(d, dtype=torch.float64)
    e[0] = 1.0
    cosines = torch.linspace(1.0, -1.0, n, dtype=torch.float64)                          # (N,)
    side = torch.randn(n, d, generator=gen, dtype=torch.float64)
    side[:, 0] = 0.0
    side = side / side.norm(dim=1, keepdim=True)                                          # (N, D) unit, orthogonal to e
    query = cosines[:, None] * e + (1 - cosines**2).clamp_min(0).sqrt()[:, None] * side
    query = query + 0.02 * torch.randn(n, d, generator=gen, dtype=torch.float64)
    near_e = lambda *shape: e + 0.15 * torch.randn(*shape, d, generator=gen, dtype=torch.float64)  # noqa: E731
    positive = near_e(n)
    negatives = {"in-batch": None, "unpaired": near_e(m), "paired": near_e(n, m)}[mode]
    args = [query.float(), positive.float(), None if negatives is None else negatives.float(), 0.01]
    return args if negatives is None else args + [mode]


# the example: rows [100, 100] and [-100, -100], each log 2 (float32, D = 1)
ONE_DIM_SPREAD = {
    "in-batch": [[[1.0], [-1.0]], [[1.0], [1.0]], None],
    "unpaired": [[[1.0], [-1.0]], [[1.0], [1.0]], [[1.0]]],
    "paired": [[[1.0], [-1.0]], [[1.0], [1.0]], [[[1.0]], [[1.0]]]],
}


@check("stability")
def check_rows_with_different_logit_ranges_float32(learner, reference, device):
    why = ("each row's log-sum-exp must be shifted by that row's own maximum: a row whose logits all lie "
           "about 100 or more below the batch's largest logit underflows to log(0) in float32 when "
           "shifted by the batch's maximum")
    for mode, (q, k, neg) in ONE_DIM_SPREAD.items():
        args = [torch.tensor(q), torch.tensor(k), None if neg is None else torch.tensor(neg), 0.01]
        args = args if neg is None else args + [mode]
        got = loss_of(learner, args, device).output
        assert_close(got, torch.tensor(math.log(2.0)), f"loss of query [[1], [-1]], positive_key [[1], [1]]"
                     f"{'' if neg is None else f', negative_keys {neg}'} ({mode}, t=0.01, float32), "
                     f"whose two rows have logits [100, 100] and [-100, -100]: log 2 expected; {why}")
    for mode in ("in-batch", "unpaired", "paired"):
        what = f"({mode}, t=0.01, float32, rows whose largest logits range from about 100 down to -85; {why})"
        LOSS.assert_grads_match(learner, reference, spread_rows(mode), device, value_what=f"loss {what}")


@check("stability")
def check_high_temperature_float32(learner, reference, device):
    case = InfoNceCase(16, 32, 16, "unpaired", 10.0, "float32", 6)
    args = call_args(case)
    got = loss_of(learner, args, device).output
    assert_close(got, expected(reference, args), "loss at temperature 10")


@check("stability")
def check_near_identical_vectors(learner, reference, device):
    gen = torch.Generator().manual_seed(11)
    base = torch.randn(1, 64, generator=gen)
    near = lambda *shape: base + 1e-4 * torch.randn(*shape, 64, generator=gen)  # noqa: E731
    q, k, shared, paired = near(48), near(48), near(32), near(48, 8)
    for t in (0.01, 0.5):
        for args in ([q, k, None, t], [q, k, shared, t, "unpaired"], [q, k, paired, t, "paired"]):
            got = loss_of(learner, args, device).output
            mode = "in-batch" if args[2] is None else args[4]
            assert_close(got, expected(reference, args), f"loss for near-identical vectors ({mode}, t={t})",
                         rtol=1e-3, atol=1e-3)


@check("stability")
@examples(8)
@given(case=info_nce_cases(n=st.integers(1, 16), m=st.integers(1, 16), d=st.integers(1, 32),
                           dtype=st.just("float32")),
       scale=st.sampled_from([1e-6, 1e3, 1e6]))
def check_large_and_small_norms(learner, reference, device, case, scale):
    # every vector gets a norm between scale / 2 and 2 scale (not only its entries scaled: with D = 1
    # a scaled entry can be arbitrarily close to 0)
    gen = torch.Generator().manual_seed(case.seed + 1)
    sized = []
    for t in case.tensors():
        if t is not None:
            norms = torch.empty(*t.shape[:-1], 1, dtype=torch.float64).uniform_(0.5, 2.0, generator=gen) * scale
            t = (t.double() / t.double().norm(dim=-1, keepdim=True) * norms).to(t.dtype)
        sized.append(t)
    args = call_args(case, sized)
    got = loss_of(learner, args, device).output
    assert_close(got, expected(reference, args), f"loss for vectors scaled by {scale:g} ({case.mode})",
                 rtol=1e-3, atol=1e-4)


# -- hygiene ----------------------------------------------------------------------
MODES = ("in-batch", "unpaired", "paired")
check_inputs_not_modified = LOSS.inputs_not_modified(
    [(f" ({mode})", call_args(InfoNceCase(6, 4, 5, mode, 0.3, "float32", 5))) for mode in MODES])
check_dtype_device_and_0dim = LOSS.dtype_device_and_0dim(lambda dtype: [
    (f" ({mode})", call_args(InfoNceCase(4, 3, 5, mode, 0.1, str(dtype).removeprefix("torch."), 6)))
    for mode in MODES])
check_output_keeps_autograd_graph = LOSS.output_keeps_autograd_graph(
    [(f" ({mode})", call_args(InfoNceCase(4, 3, 6, mode, 0.1, "float32", 9))) for mode in MODES])


# -- speed ------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)   # both sides of one repetition get the same tensor
def _speed_queue(seed: int, m: int, d: int) -> torch.Tensor:
    return torch.randn(m, d, generator=torch.Generator().manual_seed(seed))


def _time_with_queue(learner, reference_child, device, seed, n, m, d):
    # a new queue every repetition, sent before each timed call
    sides = [WithFreshTensor(side, "negative_keys", functools.partial(_speed_queue, m=m, d=d))
             for side in (learner.on(device), reference_child.on(device))]

    def make_args(rep):
        g = torch.Generator().manual_seed(seed * 1000 + rep)
        return [seed * 1000 + rep, torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)]

    return LOSS.time_call(sides[0], sides[1], make_args, grad=[0, 1], max_ratio=SPEED_LIMIT,
                          kwargs={"temperature": SPEED_T, "negative_mode": "unpaired"})


def _time_paired(learner, reference_child, device, seed, n, m, d):
    def make_args(rep):
        g = torch.Generator().manual_seed(seed * 1000 + rep)
        return [torch.randn(n, d, generator=g), torch.randn(n, d, generator=g), torch.randn(n, m, d, generator=g)]

    return LOSS.time_call(learner.on(device), reference_child.on(device), make_args, grad=[0, 1, 2],
                          max_ratio=SPEED_LIMIT, kwargs={"temperature": SPEED_T, "negative_mode": "paired"})


def _describe(setting):
    mode, n, m, d = setting
    return f"N={n}, M={m} ({'queue' if mode == 'unpaired' else 'paired'}), D={d}"


_TIMERS = {"unpaired": _time_with_queue, "paired": _time_paired}
check_speed_vs_reference = LOSS.speed_vs_reference(
    SPEED_SETTINGS, _describe, max_ratio=SPEED_LIMIT,
    time_one=lambda learner, reference_child, device, seed, setting: _TIMERS[setting[0]](
        learner, reference_child, device, seed, *setting[1:]))
