"""Hidden checks for nce_loss(pos_scores, neg_scores, log_q_pos=None, log_q_neg=None, temperature=1.0).

The estimation check fits free log-scores in the parent: each step it draws data and
noise samples, sends their scores and noise log-probabilities to the learner's loss in
the child, gets back the gradients with respect to the scores, scatters them onto the
parameters and takes an Adam step. The draws and the parameters never leave the parent;
only the loss runs in the child.
"""

from __future__ import annotations

import math
import time

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.api import as_tensor, assert_close, check, examples, learner_raises
from grader.loss_checks import Loss
from grader.strategies import NceCase, nce_cases

# Once the loss's values differ from the reference, these checks would report the same bug
# again (gradients, invariances and speed of a wrong loss): they wait for matches_reference.
CATEGORY_DEPENDS = {category: ("matches_reference",)
                    for category in ("gradients", "properties", "stability", "speed")}
SPEED_B, SPEED_K, SPEED_LIMIT = 8192, 64, 3.0

# The estimation experiment: a 20-way categorical, K noise samples per observed one.
EST_CLASSES, EST_K, EST_BATCH, EST_STEPS, EST_LR, EST_SEED = 20, 4, 4096, 100, 0.3, 20100
EST_TOLERANCE, EST_NORMALIZATION_TOLERANCE = 0.2, 0.05
EST_BUDGET_S = 60.0


LOSS = Loss("nce_loss", names=("pos_scores", "neg_scores", "log_q_pos", "log_q_neg", "temperature"),
            args_of=lambda case: case.tensors() + [case.temperature], wrt=lambda args: [0, 1],
            noise=lambda args: (1 / args[4], None))


def loss_of(learner, case_or_args, device=None, **kw):
    args = LOSS.args_of(case_or_args) if isinstance(case_or_args, NceCase) else list(case_or_args)
    return LOSS.call(learner, args, device, **kw)


def expected(reference, pos, neg, log_q_pos, log_q_neg, temperature):
    return LOSS.expected(reference, [pos, neg, log_q_pos, log_q_neg, temperature])


# -- the estimation experiment (also used by tests/test_nce_info_nce.py) ------------------------
def estimation_distributions():
    """(p, q): the data distribution, Zipf-like and shuffled, and a different noise distribution."""
    i = torch.arange(EST_CLASSES, dtype=torch.float64)
    p = (i + 1).pow(-0.8)[torch.randperm(EST_CLASSES, generator=torch.Generator().manual_seed(1234))]
    q = 1.0 + 0.6 * torch.cos(1.3 * i)
    return p / p.sum(), q / q.sum()


def fit_log_scores(score_grads, seed=EST_SEED, steps=EST_STEPS, batch=EST_BATCH, k=EST_K, lr=EST_LR,
                   budget_s=None):
    """Fit one free log-score per class by NCE with noise q; returns the average of the last half of the iterates.

    score_grads(pos_scores (B,), neg_scores (B, K), log_q_pos, log_q_neg) -> (d loss/d pos, d loss/d neg),
    float32 tensors in, anything tensor-like out. Adam with a cosine-decayed step size, from uniform log-scores.
    """
    p, q = estimation_distributions()
    log_q = q.log()
    gen = torch.Generator().manual_seed(seed)
    theta = torch.full((EST_CLASSES,), -math.log(EST_CLASSES), dtype=torch.float64)
    m, v, total = torch.zeros_like(theta), torch.zeros_like(theta), torch.zeros_like(theta)
    beta1, beta2 = 0.9, 0.999
    started = time.perf_counter()
    for step in range(1, steps + 1):
        x = torch.multinomial(p, batch, replacement=True, generator=gen)                  # (B,) data
        y = torch.multinomial(q, batch * k, replacement=True, generator=gen).view(batch, k)  # (B, K) noise
        g_pos, g_neg = score_grads(theta[x].float(), theta[y].float(), log_q[x].float(), log_q[y].float())
        grad = torch.zeros_like(theta)
        grad.index_add_(0, x, g_pos.double().reshape(-1)).index_add_(0, y.reshape(-1), g_neg.double().reshape(-1))
        if not torch.isfinite(grad).all():
            raise AssertionError(f"step {step} of the fit: the gradients of nce_loss are not finite")
        m.mul_(beta1).add_(grad, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        rate = lr * 0.5 * (1 + math.cos(math.pi * step / steps)) + 1e-3
        theta = theta - rate * (m / (1 - beta1**step)) / ((v / (1 - beta2**step)).sqrt() + 1e-8)
        if step > steps // 2:
            total += theta
        if budget_s is not None and time.perf_counter() - started > budget_s:
            raise AssertionError(f"the fit did not finish in {budget_s:g} s ({step} of {steps} steps); "
                                 f"nce_loss is too slow for {batch} x {k} noise samples")
    return total / (steps - steps // 2)


def estimation_errors(theta):
    """(max |s(x) - log p(x)|, log sum_x exp s(x), mean offset s - log p)."""
    p, _ = estimation_distributions()
    diff = theta - p.log()
    return diff.abs().max().item(), torch.logsumexp(theta, 0).item(), diff.mean().item()


# -- interface ----------------------------------------------------------------
@check("interface")
def check_rejects_mismatched_shapes(learner):
    r = torch.randn
    bad = [
        ("pos (3,), neg (2, 4)", [r(3), r(2, 4)]),
        ("pos (3, 1), neg (3, 4)", [r(3, 1), r(3, 4)]),
        ("pos (3,), neg (3,)", [r(3), r(3)]),
        ("pos (3,), neg (3, 4, 2)", [r(3), r(3, 4, 2)]),
        ("log_q_pos (2,) for pos (3,)", [r(3), r(3, 4), r(2), r(3, 4)]),
        ("log_q_neg (3, 5) for neg (3, 4)", [r(3), r(3, 4), r(3), r(3, 5)]),
        ("log_q_neg (4,) for neg (3, 4)", [r(3), r(3, 4), r(3), r(4)]),
        # shapes that broadcast, or hold the right number of values, are still the wrong shapes
        ("log_q_neg (3, 1) for neg (3, 4)", [r(3), r(3, 4), r(3), r(3, 1)]),
        ("log_q_neg (1, 4) for neg (3, 4)", [r(3), r(3, 4), r(3), r(1, 4)]),
        ("log_q_neg (12,) for neg (3, 4)", [r(3), r(3, 4), r(3), r(12)]),
        ("log_q_pos (1,) for pos (3,)", [r(3), r(3, 4), r(1), r(3, 4)]),
        ("log_q_pos (3, 1) for pos (3,)", [r(3), r(3, 4), r(3, 1), r(3, 4)]),
    ]
    for what, args in bad:
        args = args + [None] * (4 - len(args))
        with learner_raises("ValueError", what=what):
            learner.call("nce_loss", *args, 1.0)


@check("interface")
def check_rejects_no_noise_samples(learner):
    with learner_raises("ValueError", what="neg_scores of shape (3, 0), K = 0"):
        learner.call("nce_loss", torch.randn(3), torch.randn(3, 0), None, None, 1.0)


@check("interface")
def check_rejects_empty_batch(learner):
    with learner_raises("ValueError", what="pos_scores of shape (0,) and neg_scores (0, 4), B = 0"):
        learner.call("nce_loss", torch.randn(0), torch.randn(0, 4), None, None, 1.0)


@check("interface")
def check_rejects_only_one_log_q(learner):
    pos, neg = torch.randn(3), torch.randn(3, 2)
    with learner_raises("ValueError", what="log_q_pos given, log_q_neg missing"):
        learner.call("nce_loss", pos, neg, -torch.rand(3), None, 1.0)
    with learner_raises("ValueError", what="log_q_neg given, log_q_pos missing"):
        learner.call("nce_loss", pos, neg, None, -torch.rand(3, 2), 1.0)


check_rejects_nonpositive_temperature = LOSS.rejects("ValueError", [
    (f"temperature={t}", [torch.randn(3), torch.randn(3, 2), None, None, t]) for t in (0.0, -1.0)])


@check("interface")
def check_accepts_keyword_arguments(learner, reference):
    pos, neg, lqp, lqn = NceCase(3, 2, 0.5, "float64", True, 4).tensors()
    got = learner.call("nce_loss", pos_scores=pos, neg_scores=neg, log_q_pos=lqp, log_q_neg=lqn,
                       temperature=0.5).output
    assert_close(got, expected(reference, pos, neg, lqp, lqn, 0.5), "loss called with keyword arguments")


# -- correctness --------------------------------------------------------------
def worked_example():
    d = torch.float64
    pos = torch.tensor([1.0, -0.5], dtype=d)
    neg = torch.tensor([[0.2, -1.0], [0.5, 0.0]], dtype=d)
    log_q_pos = torch.tensor([0.25, 0.5], dtype=d).log()
    log_q_neg = torch.tensor([[0.25, 0.125], [0.5, 0.25]], dtype=d).log()
    return pos, neg, log_q_pos, log_q_neg


def _worked_examples():
    pos, neg, lqp, lqn = worked_example()
    return [("loss of the worked example", [pos, neg, lqp, lqn, 0.5], 2.8027316972),
            ("loss of the worked example without log_q (negative sampling)", [pos, neg, None, None, 0.5],
             2.2432709150)]


check_worked_example_from_spec = LOSS.worked_example(_worked_examples(), rtol=1e-8, atol=1e-9)


@check("correctness")
def check_zero_logits_give_log_two_per_term(learner):
    # every logit 0: each of the 1 + K terms is log 2; K q(x) = 1 makes the correction vanish
    for b, k in ((1, 1), (3, 5)):
        want = torch.tensor((1 + k) * math.log(2.0), dtype=torch.float64)
        pos, neg = torch.zeros(b, dtype=torch.float64), torch.zeros(b, k, dtype=torch.float64)
        got = loss_of(learner, [pos, neg, None, None, 1.0]).output
        assert_close(got, want, f"loss for all-zero scores, B={b}, K={k}")
        lq = -math.log(k)
        got = loss_of(learner, [pos, neg, torch.full((b,), lq, dtype=torch.float64),
                                torch.full((b, k), lq, dtype=torch.float64), 0.3]).output
        assert_close(got, want, f"loss for all-zero scores with q(x) = 1/K, B={b}, K={k}")


@check("correctness")
def check_default_temperature_is_one(learner, reference):
    for log_q in (False, True):
        pos, neg, lqp, lqn = NceCase(5, 3, 1.0, "float64", log_q, 2).tensors()
        args = [pos, neg] if lqp is None else [pos, neg, lqp, lqn]
        got = learner.call("nce_loss", *args).output
        assert_close(got, expected(reference, pos, neg, lqp, lqn, 1.0),
                     f"loss with the default temperature ({'with' if log_q else 'without'} log_q)")


check_matches_reference = LOSS.matches_reference(nce_cases(), examples_n=30)


# -- gradients ----------------------------------------------------------------
check_gradients_match_reference = LOSS.gradients_match_reference(
    nce_cases(b=st.integers(1, 32), k=st.integers(1, 16)), examples_n=20)


@check("gradients")
def check_gradients_at_zero_logits(learner, device, record_property):
    # Logits of exactly 0 are common: word2vec starts its context vectors at zero. There
    # dL/dlogit is sigmoid(0) = 0.5 per term, but a hand-written stable softplus (max(x, 0) or
    # relu(x), plus log1p(exp(-|x|))) has a kink at 0 under autograd and gives 1 or 0 instead.
    # Accepted with a note while training can still move; a gradient that is 0 for every term
    # (a model started at zero never moves), nan, or any other value fails.
    odd = []
    for b, k, t, log_q in ((1, 1, 1.0, False), (3, 5, 1.0, False), (3, 4, 0.5, True)):
        pos, neg = torch.zeros(b, dtype=torch.float64), torch.zeros(b, k, dtype=torch.float64)
        lqp = torch.full((b,), -math.log(k), dtype=torch.float64) if log_q else None
        lqn = torch.full((b, k), -math.log(k), dtype=torch.float64) if log_q else None
        grads = loss_of(learner, [pos, neg, lqp, lqn, t], device, grad=[0, 1]).grads
        if isinstance(grads, str) or any(g is None for g in grads):
            raise AssertionError(f"no gradients for all-zero scores (B={b}, K={k}): {grads}")
        where = f"all logits 0, B={b}, K={k}, t={t:g}"
        # per-term slope dL/dlogit: the loss is a mean over B, logits are score / t
        slopes = {"pos_scores": -as_tensor(grads[0], "gradient").double() * b * t,
                  "neg_scores": as_tensor(grads[1], "gradient").double() * b * t}
        for name, slope in slopes.items():
            if not torch.isfinite(slope).all():
                raise AssertionError(f"gradient w.r.t. {name} ({where}): not finite")
            off = min((slope - c).abs().max().item() for c in (0.0, 0.5, 1.0))
            if off > 1e-9 or not (torch.allclose(slope, slope.flatten()[0].expand_as(slope))):
                raise AssertionError(f"gradient w.r.t. {name} ({where}): dL/dlogit per term "
                                     f"{slope.flatten()[:4].tolist()}, expected sigmoid(0) = 0.5")
            if abs(slope.flatten()[0].item() - 0.5) > 1e-9:
                odd.append((name, slope.flatten()[0].item()))
        if all(abs(slope).max().item() < 1e-12 for slope in slopes.values()):
            raise AssertionError(f"zero gradient at all-zero scores ({where}): dL/dlogit should be "
                                 f"sigmoid(0) = 0.5; a model started at zero (word2vec's context "
                                 f"vectors) would never move. relu(x) and |x| have slope 0 at 0 under "
                                 f"autograd: use F.softplus or F.logsigmoid")
    if odd:
        shown = ", ".join(f"{name} {value + 0.0:g}" for name, value in dict(odd).items())
        record_property("message", f"note: at logits of exactly 0 your dL/dlogit is {shown}, not "
                        f"sigmoid(0) = 0.5 (autograd at the kink of max(x, 0) / relu and |x|); "
                        f"F.softplus or F.logsigmoid are exact there. Not counted as a failure.")


check_gradcheck_float64 = LOSS.gradcheck_float64([
    case.tensors() + [case.temperature]
    for case in (NceCase(3, 2, 0.7, "float64", True, 7), NceCase(2, 3, 2.0, "float64", False, 8))])


# -- properties -----------------------------------------------------------------
@check("properties")
def check_recovers_log_probabilities(learner, device, record_property):
    """NCE's defining property: the fitted log-scores are the true, self-normalized log-probabilities."""
    def score_grads(pos, neg, log_q_pos, log_q_neg):
        grads = learner.call("nce_loss", pos, neg, log_q_pos, log_q_neg, 1.0, device=device, grad=[0, 1]).grads
        if isinstance(grads, str) or grads is None or any(g is None for g in grads):
            raise AssertionError(f"nce_loss must be differentiable with respect to the scores: {grads}")
        return grads

    theta = fit_log_scores(score_grads, budget_s=EST_BUDGET_S)
    worst, log_z, offset = estimation_errors(theta)
    summary = (f"max |s(x) - log p(x)| = {worst:.3f} (tolerance {EST_TOLERANCE:g}), "
               f"log sum exp s = {log_z:+.3f} (tolerance {EST_NORMALIZATION_TOLERANCE:g})")
    if not (worst <= EST_TOLERANCE and abs(log_z) <= EST_NORMALIZATION_TOLERANCE):
        raise AssertionError(
            f"fitting {EST_CLASSES} free log-scores by NCE against a known noise distribution "
            f"(K = {EST_K}) did not recover the log-probabilities: {summary}; on average the scores "
            f"sit {offset:+.3f} from log p (log K = {math.log(EST_K):.3f}). With logit = s - log(K q), "
            f"the optimum is s = log p exactly")
    record_property("message", summary)


@check("properties")
@examples(10)
@given(case=nce_cases(b=st.integers(1, 16), k=st.integers(1, 8), dtype=st.just("float64"),
                      temperature=st.floats(0.5, 5.0)))
def check_decreasing_in_positive_scores(learner, case):
    # moderate logits (|z| < 30 or so), so that every step changes the float64 loss visibly
    pos, neg, lqp, lqn = case.tensors(scale=1.0)
    shifts = (-3.0, -1.0, 0.0, 1.0, 3.0)
    outs = learner.call_many("nce_loss", [[pos + s, neg, lqp, lqn, case.temperature] for s in shifts])
    values = [as_tensor(o, "loss").double().item() for o in outs]
    if not all(a > b for a, b in zip(values, values[1:])):
        raise AssertionError(f"raising every positive score by {shifts} must lower the loss strictly, "
                             f"got {[round(v, 6) for v in values]}")
    grads = loss_of(learner, [pos, neg, lqp, lqn, case.temperature], grad=[0]).grads
    if not isinstance(grads, str) and grads[0] is not None and (as_tensor(grads[0], "grad") > 0).any():
        raise AssertionError("d loss / d pos_scores has a positive entry: a higher score for an observed "
                             "sample must never raise the loss")


@check("properties")
@examples(10)
@given(case=nce_cases(b=st.integers(1, 16), k=st.integers(1, 8), dtype=st.just("float64"),
                      temperature=st.floats(0.5, 5.0)))
def check_increasing_in_noise_scores(learner, case):
    pos, neg, lqp, lqn = case.tensors(scale=1.0)
    shifts = (-3.0, -1.0, 0.0, 1.0, 3.0)
    outs = learner.call_many("nce_loss", [[pos, neg + s, lqp, lqn, case.temperature] for s in shifts])
    values = [as_tensor(o, "loss").double().item() for o in outs]
    if not all(a < b for a, b in zip(values, values[1:])):
        raise AssertionError(f"raising every noise score by {shifts} must raise the loss strictly, "
                             f"got {[round(v, 6) for v in values]}")


@check("properties")
@examples(10)
@given(case=nce_cases(b=st.integers(1, 16), k=st.integers(1, 8), log_q=st.just(True)))
def check_correction_is_a_logit_shift(learner, case):
    # s/t - log(K q) = (s - t log(K q)) / t: the corrected loss is the uncorrected one of shifted scores
    pos, neg, lqp, lqn = case.tensors()
    t, log_k = case.temperature, math.log(case.k)
    corrected = as_tensor(loss_of(learner, [pos, neg, lqp, lqn, t]).output, "loss")
    shifted = loss_of(learner, [pos - t * (lqp + log_k), neg - t * (lqn + log_k), None, None, t]).output
    assert_close(shifted, corrected, "loss without log_q of the scores shifted by -t log(K q), against "
                 "the loss with log_q (the temperature divides the score only, not the correction)",
                 case.torch_dtype)


# -- numerical stability ---------------------------------------------------------------
@check("stability")
def check_extreme_scores_float32(learner, reference, device):
    gen = torch.Generator().manual_seed(13)
    pos = torch.empty(64).uniform_(-1e4, 1e4, generator=gen)
    neg = torch.empty(64, 8).uniform_(-1e4, 1e4, generator=gen)
    pos[:8], neg[:8] = 1e4, -1e4            # confidently right
    pos[8:16], neg[8:16] = -1e4, 1e4        # confidently wrong
    lqp = -torch.empty(64).uniform_(0.5, 12.0, generator=gen)
    lqn = -torch.empty(64, 8).uniform_(0.5, 12.0, generator=gen)
    for args in ([pos, neg, None, None, 1.0], [pos, neg, lqp, lqn, 1.0], [pos, neg, lqp, lqn, 0.5]):
        what = "with log_q" if args[2] is not None else "without log_q"
        LOSS.assert_grads_match(learner, reference, args, device, value_what=f"loss for scores up to +-1e4 {what}",
                                rtol=1e-4, atol=1e-4, noise=(1.0, None))


@check("stability")
def check_low_temperature_float32(learner, reference, device):
    case = NceCase(32, 16, 0.01, "float32", True, 3)
    tensors = case.tensors(scale=1.0)
    LOSS.assert_grads_match(learner, reference, tensors + [0.01], device, value_what="loss at temperature 0.01",
                            rtol=1e-4, atol=1e-4)


def spread_rows(seed=21, b=9, k=6):
    """float32 scores for t = 0.01 whose rows' logits lie in very different ranges: row i's observed
    and noise scores all sit near c_i, with c_i from 3 down to -3, so its logits sit near 100 c_i
    (300 down to -300). log_q (in [-12, -0.5]) shifts each logit by at most 11."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.linspace(3.0, -3.0, b, dtype=torch.float64)                       # (B,)
    pos = centres + 0.05 * torch.randn(b, generator=gen, dtype=torch.float64)
    neg = centres[:, None] + 0.05 * torch.randn(b, k, generator=gen, dtype=torch.float64)
    lqp = -torch.empty(b, dtype=torch.float64).uniform_(0.5, 12.0, generator=gen)
    lqn = -torch.empty(b, k, dtype=torch.float64).uniform_(0.5, 12.0, generator=gen)
    return [x.float() for x in (pos, neg, lqp, lqn)]


@check("stability")
def check_rows_with_different_logit_ranges_float32(learner, reference, device):
    pos, neg, lqp, lqn = spread_rows()
    for args in ([pos, neg, None, None, 0.01], [pos, neg, lqp, lqn, 0.01]):
        what = (f"({'with' if args[2] is not None else 'without'} log_q, t=0.01, float32, rows whose "
                "logits sit near 300, 225, ..., -300): every term must be stable on its own, e.g. "
                "F.softplus or F.logsigmoid; a shift shared by the whole batch (its largest logit) "
                "underflows to log(0) for rows far below it")
        LOSS.assert_grads_match(learner, reference, args, device, value_what=f"loss {what}", rtol=1e-4, atol=1e-4)


# -- hygiene ----------------------------------------------------------------------
check_inputs_not_modified = LOSS.inputs_not_modified([("", NceCase(6, 5, 0.3, "float32", True, 5).tensors() + [0.3])])
check_dtype_device_and_0dim = LOSS.dtype_device_and_0dim(lambda dtype: [
    ("", LOSS.args_of(NceCase(4, 3, 1.0, str(dtype).removeprefix("torch."), log_q, 6))) for log_q in (False, True)])
check_output_keeps_autograd_graph = LOSS.output_keeps_autograd_graph(
    [("", LOSS.args_of(NceCase(4, 3, 1.0, "float32", True, 9)))])


# -- speed ------------------------------------------------------------------------
check_speed_vs_reference = LOSS.speed_vs_reference(
    [(SPEED_B, SPEED_K)], lambda bk: f"B={bk[0]}, K={bk[1]}",
    lambda bk, rep_seed: NceCase(*bk, 1.0, "float32", True, rep_seed).tensors() + [1.0], max_ratio=SPEED_LIMIT)
