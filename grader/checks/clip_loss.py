"""Hidden checks for clip_loss(image_emb, text_emb, logit_scale) and
siglip_loss(image_emb, text_emb, logit_scale, logit_bias)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.api import as_tensor, assert_close, assert_grads_close, check, examples
from grader.compare import normalize_backward_noise
from grader.gradcheck import of_the_loss, upstream
from grader.loss_checks import Loss, Losses
from grader.strategies import FLOAT_DTYPES, float_dtype_names, seeds

LOSSES = ("clip_loss", "siglip_loss")
NAMES = {"clip_loss": ["image_emb", "text_emb", "logit_scale"],
         "siglip_loss": ["image_emb", "text_emb", "logit_scale", "logit_bias"]}
MAX_LOGIT_SCALE = math.log(100.0)   # CLIP's clamp: the checks never go above a scale of 100
# A Python loop over the rows (and the columns) measured 15-19x the reference at N = 1024 and
# 48-89x at N = 256, where each row's own work is small.
SPEED_SIZES, SPEED_D, SPEED_LIMIT = (1024, 256), 128, 3.0
# float32 rounding of the gradient w.r.t. logit_scale, in units of eps * exp(s) * sum_ij |dL/dlogit_ij cos_ij|
# (exact, float64): up to 10 for the correct formulations measured; this leaves a margin.
LOGIT_SCALE_NOISE_ULPS = 64

logit_scales = st.one_of(st.sampled_from([math.log(1 / 0.07), math.log(10.0), MAX_LOGIT_SCALE, 0.0, -2.0]),
                         st.floats(-2.0, MAX_LOGIT_SCALE, allow_nan=False))
logit_biases = st.one_of(st.sampled_from([-10.0, 0.0, 3.0]), st.floats(-12.0, 12.0, allow_nan=False))


@dataclass(frozen=True)
class PairCase:
    """n image-text pairs of dimension d, with the loss's logit_scale and logit_bias."""

    n: int
    d: int
    logit_scale: float
    logit_bias: float
    dtype: str
    seed: int

    @property
    def torch_dtype(self) -> torch.dtype:
        return FLOAT_DTYPES[self.dtype]

    def args(self, loss: str) -> list:
        gen = torch.Generator().manual_seed(self.seed)
        image, text = (torch.randn(self.n, self.d, generator=gen, dtype=torch.float64).to(self.torch_dtype)
                       for _ in range(2))
        return with_params(loss, image, text, self.logit_scale, self.logit_bias)


def with_params(loss, image, text, logit_scale, logit_bias=0.0):
    """The positional arguments of loss: the parameters as 0-dim tensors of the embeddings' dtype."""
    params = [torch.tensor(logit_scale, dtype=image.dtype)]
    if loss == "siglip_loss":
        params.append(torch.tensor(logit_bias, dtype=image.dtype))
    return [image, text, *params]


def pair_cases(n=st.integers(1, 64), d=st.integers(1, 128), dtype=float_dtype_names):
    return st.builds(PairCase, n=n, d=d, logit_scale=logit_scales, logit_bias=logit_biases, dtype=dtype,
                     seed=seeds)


def loss_of(learner, loss, args, device=None, **kw):
    return DECLARED[loss].call(learner, args, device, **kw)


def expected(reference, loss, args):
    return DECLARED[loss].expected(reference, args)


def learner_grads(learner, loss, args, device=None):
    mine = loss_of(learner, loss, args, device, grad=list(range(len(args))), grad_output=upstream(args[0].dtype))
    return mine, of_the_loss(mine.grads)


def rounding_noise(loss, args):
    """Extra gradient tolerances from an exact float64 pass, one per argument.

    Embeddings: ulps of |x|^-1 times the total |dL/dlogit| * exp(s) of the row (in exact
    arithmetic the normalization removes the radial part of the gradient; in float32 what is
    left is rounding noise). logit_scale: ulps of exp(s) * sum_ij |dL/dlogit_ij * cos_ij|, the
    sum that cancels when the cosines are nearly equal (at a scale of 100 on near-identical
    rows it reaches 4e-4 in float32, different for each correct formulation).
    """
    image, text, logit_scale = args[0], args[1], args[2]
    cos = F.normalize(image.double(), dim=1) @ F.normalize(text.double(), dim=1).T      # (N, N)
    scale = logit_scale.double().exp()
    logits = (scale * cos + (args[3].double() if loss == "siglip_loss" else 0.0)).requires_grad_(True)
    (g,) = torch.autograd.grad(reference_from_logits(loss, logits), logits)             # (N, N)
    eps = torch.finfo(image.dtype).eps
    noise = [normalize_backward_noise(g.abs().sum(1) * scale, image, image.dtype),
             normalize_backward_noise(g.abs().sum(0) * scale, text, text.dtype),
             LOGIT_SCALE_NOISE_ULPS * eps * scale * (g * cos).abs().sum()]
    if loss == "siglip_loss":
        noise.append(None)
    return noise


def reference_from_logits(loss, logits):
    n = logits.shape[0]
    if loss == "clip_loss":
        target = torch.arange(n)
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    labels = 2 * torch.eye(n, dtype=logits.dtype) - 1
    return -F.logsigmoid(labels * logits).sum() / n


def assert_all_grads_close(learner, reference, loss, args, device=None, what=""):
    _, mine = learner_grads(learner, loss, args, device)
    names = [f"{name}{what}" for name in NAMES[loss]]
    noise_scale, extra_atol = DECLARED[loss].noise(args)
    assert_grads_close(mine, DECLARED[loss].reference_grads(reference, args), names, args[0].dtype,
                       noise_scale=noise_scale, extra_atol=extra_atol)


def _declared(loss):
    # every argument gets a gradient: logit_scale and logit_bias are learned parameters
    return Loss(loss, names=NAMES[loss], args_of=lambda case: case.args(loss),
                noise=lambda args: (max(1.0, math.exp(float(args[2]))), rounding_noise(loss, args)))


CLIP, SIGLIP = _declared("clip_loss"), _declared("siglip_loss")
DECLARED = {"clip_loss": CLIP, "siglip_loss": SIGLIP}
BOTH = Losses((CLIP, SIGLIP))


# -- interface ----------------------------------------------------------------
BAD_SHAPES = [((3, 4), (3, 5)), ((3, 4), (2, 4)), ((4,), (4,)), ((2, 3, 4), (2, 3, 4))]
check_rejects_bad_shapes = BOTH.rejects("ValueError", lambda loss: [
    (f"{loss.function} with image_emb {s1} and text_emb {s2}",
     with_params(loss.function, torch.randn(s1), torch.randn(s2), 1.0)) for s1, s2 in BAD_SHAPES],
    doc="Each loss raises ValueError unless image_emb and text_emb are (N, D) of one shape.")


# -- correctness --------------------------------------------------------------
def worked_example():
    d = torch.float64
    image = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=d)
    text = torch.tensor([[1.0, 1.0], [0.0, 3.0]], dtype=d)
    return image, text, math.log(2.0), -1.0


WORKED_CLIP, WORKED_SIGLIP = 0.3700611229, 1.0277038896
check_worked_example_from_spec = BOTH.worked_example(lambda loss: [
    (f"{loss.function} of the worked example", with_params(loss.function, *worked_example()),
     {"clip_loss": WORKED_CLIP, "siglip_loss": WORKED_SIGLIP}[loss.function])], rtol=1e-8, atol=1e-9)

check_clip_matches_reference = CLIP.matches_reference(pair_cases(), examples_n=25, what="clip_loss")
check_siglip_matches_reference = SIGLIP.matches_reference(pair_cases(), examples_n=25, what="siglip_loss")


@check("correctness")
@examples(10)
@given(n=st.integers(1, 8), cosine=st.floats(-1.0, 1.0), logit_scale=logit_scales, logit_bias=logit_biases,
       seed=seeds)
def check_closed_form_on_orthonormal_features(learner, n, cosine, logit_scale, logit_bias, seed):
    # images u_i, texts c u_i + sqrt(1 - c^2) v_i, all u, v orthonormal: the diagonal cosines are c,
    # the others 0. CLIP: every row and column is log(1 + (N - 1) exp(-e^s c)).
    # SigLIP: -log sigmoid(e^s c + b) for the pair, -log sigmoid(-b) for each of the N - 1 others.
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(2 * n + 1, 2 * n + 1, generator=gen, dtype=torch.float64))
    u, v = basis[:n], basis[n:2 * n]
    image = u * torch.empty(n, 1, dtype=torch.float64).uniform_(0.5, 2.0, generator=gen)
    text = cosine * u + math.sqrt(max(1.0 - cosine**2, 0.0)) * v
    scale = math.exp(logit_scale)
    log_sigmoid = lambda x: -math.log1p(math.exp(-x)) if x > 0 else x - math.log1p(math.exp(x))  # noqa: E731
    want = {"clip_loss": math.log1p((n - 1) * math.exp(-scale * cosine)),
            "siglip_loss": -log_sigmoid(scale * cosine + logit_bias) - (n - 1) * log_sigmoid(-logit_bias)}
    for loss in LOSSES:
        got = loss_of(learner, loss, with_params(loss, image, text, logit_scale, logit_bias)).output
        assert_close(got, torch.tensor(want[loss], dtype=torch.float64),
                     f"{loss} on orthonormal features (N={n}, cosine {cosine:g} on the diagonal, 0 elsewhere, "
                     f"logit_scale={logit_scale:g}, logit_bias={logit_bias:g}); the spec's closed form",
                     rtol=1e-7, atol=1e-9)


# -- gradients ----------------------------------------------------------------
@check("gradients")
def check_logit_scale_and_bias_get_gradients(learner):
    """A temperature that is detached (.item(), float(), .detach(), .data) never learns."""
    for loss in LOSSES:
        args = PairCase(6, 5, math.log(1 / 0.07), -2.0, "float64", 3).args(loss)
        grads = loss_of(learner, loss, args, grad=list(range(len(args)))).grads
        if isinstance(grads, str):
            raise AssertionError(f"{loss}: no gradients: {grads}")
        for name, g in zip(NAMES[loss][2:], grads[2:]):
            if g is None or not torch.is_tensor(g) or g.abs().max() == 0:
                raise AssertionError(
                    f"{loss}: no gradient reaches {name}. It is a learnable parameter: use it as a tensor "
                    "(never .item(), float(), .detach() or .data), or it will never be trained")


check_clip_gradients_match_reference = CLIP.gradients_match_reference(
    pair_cases(n=st.integers(1, 32), d=st.integers(1, 48)), examples_n=15)
check_siglip_gradients_match_reference = SIGLIP.gradients_match_reference(
    pair_cases(n=st.integers(1, 32), d=st.integers(1, 48)), examples_n=15)


check_gradcheck_float64 = BOTH.gradcheck_float64(lambda loss: [
    case.args(loss.function)
    for case in (PairCase(3, 4, math.log(1 / 0.07), -1.0, "float64", 7), PairCase(4, 3, 0.5, 2.0, "float64", 8))])


# -- properties -----------------------------------------------------------------
@check("properties")
@examples(10)
@given(case=pair_cases(n=st.integers(1, 16), d=st.integers(1, 32)))
def check_symmetric_in_the_two_modalities(learner, case):
    # swapping images and texts transposes the logits: rows and columns trade places
    for loss in LOSSES:
        image, text, *params = case.args(loss)
        forward = as_tensor(loss_of(learner, loss, [image, text, *params]).output, loss)
        swapped = loss_of(learner, loss, [text, image, *params]).output
        assert_close(swapped, forward, f"{loss} with image_emb and text_emb swapped (the spec's symmetry)",
                     case.torch_dtype)


@check("properties")
@examples(10)
@given(case=pair_cases(n=st.integers(2, 16), d=st.integers(1, 32)), perm_seed=seeds)
def check_invariant_to_permuting_pairs(learner, case, perm_seed):
    perm = torch.randperm(case.n, generator=torch.Generator().manual_seed(perm_seed))
    for loss in LOSSES:
        image, text, *params = case.args(loss)
        base = as_tensor(loss_of(learner, loss, [image, text, *params]).output, loss)
        moved = loss_of(learner, loss, [image[perm], text[perm], *params]).output
        assert_close(moved, base, f"{loss} after permuting the pairs (the same permutation of both)",
                     case.torch_dtype)


@check("properties")
@examples(10)
@given(case=pair_cases(n=st.integers(1, 16), d=st.integers(2, 32)), factor_seed=seeds)
def check_invariant_to_scaling_rows(learner, case, factor_seed):
    gen = torch.Generator().manual_seed(factor_seed)
    for loss in LOSSES:
        image, text, *params = case.args(loss)
        f1, f2 = (torch.empty(case.n, 1, dtype=torch.float64).uniform_(0.1, 100.0, generator=gen)
                  .to(image.dtype) for _ in range(2))
        base = as_tensor(loss_of(learner, loss, [image, text, *params]).output, loss)
        scaled = loss_of(learner, loss, [image * f1, text * f2, *params]).output
        assert_close(scaled, base, f"{loss} after scaling each embedding by a positive factor (cosine "
                     "ignores length: normalize each row, dim=1)", case.torch_dtype)


# -- numerical stability ---------------------------------------------------------------
@check("stability")
def check_scale_100_float32(learner, reference, device):
    """Logits of +-100 (exp overflows float32 at 88.7), values and all gradients."""
    gen = torch.Generator().manual_seed(21)
    base = torch.randn(1, 64, generator=gen)
    inputs = {"random rows": (torch.randn(32, 64, generator=gen), torch.randn(32, 64, generator=gen)),
              "near-identical rows": (base + 1e-3 * torch.randn(32, 64, generator=gen),
                                      base + 1e-3 * torch.randn(32, 64, generator=gen))}
    for what, (image, text) in inputs.items():
        for loss in LOSSES:
            args = with_params(loss, image, text, MAX_LOGIT_SCALE, -10.0)
            got = loss_of(learner, loss, args, device).output
            assert_close(got, expected(reference, loss, args), f"{loss} at logit_scale=log(100), {what}")
            assert_all_grads_close(learner, reference, loss, args, device,
                                   what=f" at logit_scale=log(100), {what}")


@check("stability")
def check_extreme_logits_float32(learner, reference, device):
    """Pairs pointing in opposite directions at a scale of 100: logits of -110 for matching pairs."""
    gen = torch.Generator().manual_seed(22)
    image = torch.randn(16, 32, generator=gen)
    text = -image * torch.empty(16, 1).uniform_(0.5, 2.0, generator=gen)
    for loss in LOSSES:
        for bias in (-10.0, 10.0):
            args = with_params(loss, image, text, MAX_LOGIT_SCALE, bias)
            mine, _ = learner_grads(learner, loss, args, device)
            assert_close(mine.output, expected(reference, loss, args),
                         f"{loss} for matching pairs at cosine -1, logit_scale=log(100), logit_bias={bias:g} "
                         "(log of a sigmoid or a softmax that underflowed?)", rtol=1e-4, atol=1e-4)


@check("stability")
@examples(8)
@given(case=pair_cases(n=st.integers(1, 16), d=st.integers(1, 32), dtype=st.just("float32")),
       scale=st.sampled_from([1e-6, 1e3, 1e6]))
def check_large_and_small_norms(learner, reference, device, case, scale):
    # every row gets a norm in [scale / 2, 2 scale] (entries scaled as a whole could fall below
    # F.normalize's 1e-12 floor, where the cosine is defined differently)
    gen = torch.Generator().manual_seed(case.seed + 1)
    for loss in LOSSES:
        image, text, *params = case.args(loss)
        image, text = (x / x.norm(dim=1, keepdim=True).clamp_min(1e-30)
                       * torch.empty(case.n, 1).uniform_(0.5, 2.0, generator=gen) * scale for x in (image, text))
        args = [image, text, *params]
        got = loss_of(learner, loss, args, device).output
        assert_close(got, expected(reference, loss, args), f"{loss} for embeddings of norm about {scale:g}",
                     rtol=1e-3, atol=1e-4)


# -- hygiene ----------------------------------------------------------------------
# logit_scale above CLIP's clamp: a loss that clamps it in place shows here
check_inputs_not_modified = BOTH.inputs_not_modified(lambda loss: [
    (" (a clamp of logit_scale belongs in the training loop, after the optimizer step)",
     PairCase(6, 5, MAX_LOGIT_SCALE + 0.5, -3.0, "float32", 5).args(loss.function))], grad=True)
check_dtype_device_and_0dim = BOTH.dtype_device_and_0dim(lambda loss, dtype: [
    (f" of {loss.function}", PairCase(4, 3, 1.0, -1.0, str(dtype).removeprefix("torch."), 6).args(loss.function))],
    dtype_first=True)
# a detached logit_scale or logit_bias is check_logit_scale_and_bias_get_gradients' finding
check_output_keeps_autograd_graph = BOTH.output_keeps_autograd_graph(lambda loss: [
    (f" in {loss.function}", PairCase(4, 6, 2.0, 0.0, "float32", 9).args(loss.function))], wrt=lambda args: [0, 1])


# -- speed ------------------------------------------------------------------------
def _speed_args(loss, n, rep_seed):
    gen = torch.Generator().manual_seed(rep_seed)
    return with_params(loss.function, torch.randn(n, SPEED_D, generator=gen), torch.randn(n, SPEED_D, generator=gen),
                       math.log(1 / 0.07), -10.0)


check_speed_vs_reference = BOTH.speed_vs_reference(SPEED_SIZES, lambda loss, n: f"{loss.function} N={n}, D={SPEED_D}",
                                                   _speed_args, max_ratio=SPEED_LIMIT)
