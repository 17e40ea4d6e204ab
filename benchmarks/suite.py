"""The benchmark's pieces: cases, implementations, agreement, interleaved timing, memory.

A *problem* is one loss (nt_xent, info_nce, nce_loss). For each case
(N, D, dtype, device, mode) every implementation of the problem gets the same
inputs; each is first checked against our reference (loss and input
gradients), then all are timed forward + backward, round-robin in one
process, and the medians reported with the ratio to the problem's baseline
(the similarity matmul alone for nt_xent and info_nce). Peak memory is
measured per (case, implementation) in a fresh process: see memory_child.py.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import math
import re
import statistics
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from benchmarks import peers
from benchmarks.peers import Unavailable

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float64": torch.float64}
TEMPERATURE = {"nt_xent": 0.5, "info_nce": 0.1, "nce_loss": 1.0}


@dataclass(frozen=True)
class Case:
    problem: str
    n: int
    d: int
    dtype: str = "float32"
    device: str = "cpu"
    mode: str = ""          # info_nce: "in-batch" (negative_keys=None) or "unpaired" (M = N keys)

    @property
    def torch_dtype(self):
        return DTYPES[self.dtype]

    def label(self) -> str:
        size = f"N={self.n} K={self.d}" if self.problem == "nce_loss" else f"N={self.n} D={self.d}"
        return " ".join(x for x in (size, self.dtype, self.mode) if x)

    def as_dict(self) -> dict:
        return {"problem": self.problem, "n": self.n, "d": self.d, "dtype": self.dtype,
                "device": self.device, "mode": self.mode}


@dataclass
class Impl:
    """One implementation. load() -> step(inputs) -> (loss or None, input grads)."""

    key: str
    label: str
    role: str                 # "floor", "reference", "ours" or "peer"
    load: object
    note: str = ""


# -- inputs -------------------------------------------------------------------------------------
def _leaf(shape, gen, dtype, device, requires_grad=True):
    return torch.randn(*shape, generator=gen).to(device=device, dtype=dtype).requires_grad_(requires_grad)


def make_inputs(case: Case, seed: int = 0) -> dict:
    """Fresh inputs for one case (drawn in float32 on the CPU, then moved and cast)."""
    gen = torch.Generator().manual_seed(seed)
    dt, dev = case.torch_dtype, case.device
    t = TEMPERATURE[case.problem]
    if case.problem == "nt_xent":
        return {"z1": _leaf((case.n, case.d), gen, dt, dev), "z2": _leaf((case.n, case.d), gen, dt, dev),
                "temperature": t}
    if case.problem == "info_nce":
        negatives = _leaf((case.n, case.d), gen, dt, dev) if case.mode == "unpaired" else None
        return {"query": _leaf((case.n, case.d), gen, dt, dev),
                "positive_key": _leaf((case.n, case.d), gen, dt, dev),
                "negative_keys": negatives, "temperature": t}
    if case.problem == "nce_loss":
        # scores of N data points and of K noise samples per data point, with the noise
        # distribution's log-probabilities (a uniform-ish q over a 10k vocabulary).
        log_q = lambda *shape: (torch.rand(*shape, generator=gen) * 2 - math.log(1e4) - 1).to(dev, dt)
        return {"pos_scores": _leaf((case.n,), gen, dt, dev), "neg_scores": _leaf((case.n, case.d), gen, dt, dev),
                "log_q_pos": log_q(case.n), "log_q_neg": log_q(case.n, case.d), "temperature": t}
    raise ValueError(f"unknown problem {case.problem!r}")


def leaves(inputs: dict) -> list[str]:
    return [k for k, v in inputs.items() if isinstance(v, torch.Tensor) and v.requires_grad]


# -- steps: forward + backward ---------------------------------------------------------------
def loss_step(loss_fn):
    """step(inputs): the loss and its gradients w.r.t. every input that requires grad."""
    def step(inputs):
        names = leaves(inputs)
        loss = loss_fn(inputs)
        grads = torch.autograd.grad(loss, [inputs[k] for k in names])
        return loss.detach(), dict(zip(names, grads))
    return step


def matmul_floor(operands):
    """The floor: the similarity matmul forward + backward and nothing else.

    nt_xent: S = z @ z.T with z the (2N, D) stack of both views; info_nce:
    S = query @ keys.T. The upstream gradient dL/dS is a ready-made tensor,
    made by step.prepare(inputs) with the inputs (not timed, not in the peak
    memory), so the timed work is exactly three matmuls of one size: S = a b^T,
    dS b and dS^T a.
    """
    def load():
        cache = {}

        def prepare(inputs):
            if cache.get("inputs") is not inputs:       # held, so its id cannot be reused
                cache.clear()
                a, b = operands(inputs)
                a = a.detach().requires_grad_(True)
                b = a if b is None else b.detach().requires_grad_(True)
                grad_s = torch.ones(a.shape[0], b.shape[0], dtype=a.dtype, device=a.device)
                cache.update(inputs=inputs, operands=(a, b, grad_s))
            return cache["operands"]

        def step(inputs):
            a, b, grad_s = prepare(inputs)
            s = a @ b.T
            torch.autograd.grad(s, [a] if b is a else [a, b], grad_outputs=grad_s)
            return None, {}

        step.prepare = prepare
        return step
    return load


def _stacked_views(x):
    return torch.cat([x["z1"], x["z2"]]), None


def _query_and_keys(x):
    """info_nce multiplies by the negatives when given, else by the positives (in-batch)."""
    return x["query"], x["negative_keys"] if x["negative_keys"] is not None else x["positive_key"]


# -- the implementations ----------------------------------------------------------------------
def _ours(module_name: str, attr: str, call):
    def load():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise Unavailable(f"{module_name.replace('.', '/')}.py does not exist yet") from None
            raise
        fn = getattr(module, attr)
        return loss_step(lambda x: call(fn, x))
    return load


def _peer(loader, call):
    def load():
        fn = loader()
        return loss_step(lambda x: call(fn, x))
    return load


def _nt(fn, x):
    return fn(x["z1"], x["z2"], x["temperature"])


def _info(fn, x):
    return fn(x["query"], x["positive_key"], x["negative_keys"], temperature=x["temperature"],
              negative_mode="unpaired")


def _nce(fn, x):
    return fn(x["pos_scores"], x["neg_scores"], x["log_q_pos"], x["log_q_neg"], temperature=x["temperature"])


def nce_bce(pos_scores, neg_scores, log_q_pos=None, log_q_neg=None, temperature=1.0):
    """NCE written plainly with F.binary_cross_entropy_with_logits (the comparison the issue asks for).

    Gutmann & Hyvarinen / Mnih & Teh with K noise samples per data point: the
    classifier's logit for a score s of a sample with noise log-probability
    log q is  s / t - log(K q) ; data points are labelled 1, noise samples 0;
    the loss is the mean over the N data points of their own term plus the sum
    of their K noise terms. Without log q the correction is dropped (the
    negative-sampling special case).
    """
    k = neg_scores.shape[-1]
    pos = pos_scores / temperature
    neg = neg_scores / temperature
    if log_q_pos is not None:
        pos = pos - (log_q_pos + math.log(k))
    if log_q_neg is not None:
        neg = neg - (log_q_neg + math.log(k))
    pos_term = F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos), reduction="sum")
    neg_term = F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg), reduction="sum")
    return (pos_term + neg_term) / pos_scores.shape[0]


def _nt_blockwise(fn, x):
    return fn(x["z1"], x["z2"], x["temperature"])             # its default block: 256 rows (CPU), 2048 (GPU)


IMPLS: dict[str, list[Impl]] = {
    "nt_xent": [
        Impl("floor", "floor: z @ z.T fwd+bwd", "floor", matmul_floor(_stacked_views)),
        Impl("reference", "ours: plain (reference)", "reference",
             _ours("solutions.nt_xent", "nt_xent", _nt)),
        Impl("fused", "ours: fused", "ours", _ours("solutions.nt_xent_fast", "nt_xent_fused", _nt)),
        Impl("blockwise", "ours: block-wise", "ours",
             _ours("solutions.nt_xent_fast", "nt_xent_blockwise", _nt_blockwise)),
        Impl("simclr", "SimCLR official (port)", "peer",
             lambda: loss_step(lambda x: _nt(peers.simclr_official_nt_xent, x))),
        Impl("lightly", "lightly", "peer", _peer(peers.lightly_nt_xent, _nt)),
        Impl("pml", "pytorch-metric-learning", "peer", _peer(peers.pml_nt_xent, _nt)),
    ],
    "info_nce": [
        Impl("floor", "floor: q @ keys.T fwd+bwd", "floor", matmul_floor(_query_and_keys)),
        Impl("reference", "ours: reference", "reference",
             _ours("solutions.info_nce", "info_nce", _info)),
        Impl("info_nce_pytorch", "info-nce-pytorch", "peer", _peer(peers.info_nce_pytorch, _info)),
    ],
    "nce_loss": [
        Impl("bce", "plain BCE-with-logits", "floor",
             lambda: loss_step(lambda x: _nce(nce_bce, x))),
        Impl("reference", "ours: reference", "reference",
             _ours("solutions.nce_loss", "nce_loss", _nce)),
    ],
}


def impls_for(problem: str, only: set[str] | None = None) -> list[Impl]:
    return [i for i in IMPLS[problem] if only is None or i.key in only]


def find_impl(problem: str, key: str) -> Impl:
    for impl in IMPLS[problem]:
        if impl.key == key:
            return impl
    raise KeyError(f"{problem} has no implementation {key!r}")


# -- agreement ----------------------------------------------------------------------------------
TOLERANCES = {torch.float64: (1e-9, 1e-9), torch.float32: (2e-4, 2e-5), torch.bfloat16: (5e-2, 5e-2)}


def disagreement(got, want, dtype) -> str | None:
    """None when (loss, grads) agree with the reference's within the dtype's tolerance."""
    rtol, atol = TOLERANCES[dtype]
    loss, grads = got
    want_loss, want_grads = want
    if not torch.allclose(loss.double(), want_loss.double(), rtol=rtol, atol=atol):
        return f"loss {loss.item():.6g} vs reference {want_loss.item():.6g}"
    for name, g in want_grads.items():
        mine = grads.get(name)
        scale = g.abs().max().double().item() or 1.0
        if mine is None or not torch.allclose(mine.double(), g.double(), rtol=rtol, atol=atol * scale):
            diff = "missing" if mine is None else f"max diff {(mine.double() - g.double()).abs().max().item():.3g}"
            return f"gradient w.r.t. {name}: {diff} (max |grad| {scale:.3g})"
    return None


# -- timing -------------------------------------------------------------------------------------
def synchronize(device: str):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def is_oom(exc: BaseException) -> bool:
    text = str(exc)
    return (isinstance(exc, MemoryError) or "out of memory" in text.lower()
            or "can't allocate memory" in text or "DefaultCPUAllocator" in text)


def oom_note(exc: BaseException) -> str:
    match = re.search(r"tried to allocate (\d+) bytes", str(exc))
    if match:
        return f"out of memory (one allocation of {int(match.group(1)) / 1e9:.1f} GB)"
    match = re.search(r"Tried to allocate ([\d.]+ [GMK]iB)", str(exc))
    return f"out of memory (one allocation of {match.group(1)})" if match else "out of memory"


@dataclass
class Outcome:
    status: str = "ok"               # ok, n/a, oom, skipped, error, mismatch
    note: str = ""
    times: list = field(default_factory=list)
    first_s: float = 0.0

    @property
    def median_s(self):
        return statistics.median(self.times) if self.times else None


def _free(device):
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def time_case(case: Case, impls: list[Impl], *, reps: int, budget_s: float, seed: int = 0,
              skip: dict[str, str] | None = None, log=lambda *a: None) -> dict[str, Outcome]:
    """Agreement, then `reps` round-robin rounds; a slow implementation gets fewer reps (>= 1)."""
    skip = skip or {}
    inputs = make_inputs(case, seed)
    out: dict[str, Outcome] = {}
    steps, answers = {}, {}
    for impl in impls:
        if impl.key in skip:
            out[impl.key] = Outcome("skipped", skip[impl.key])
            continue
        try:
            step = impl.load()
        except Unavailable as exc:
            out[impl.key] = Outcome("n/a", str(exc))
            continue
        try:
            synchronize(case.device)
            started = time.perf_counter()
            answers[impl.key] = step(inputs)            # warm-up, and the answer to check
            synchronize(case.device)
            first = time.perf_counter() - started
        except Exception as exc:                                   # noqa: BLE001 - reported in the table
            answers.pop(impl.key, None)
            out[impl.key] = Outcome("oom", oom_note(exc)) if is_oom(exc) else \
                Outcome("error", f"{type(exc).__name__}: {str(exc)[:160]}")
            _free(case.device)
            continue
        out[impl.key] = Outcome(first_s=first)
        steps[impl.key] = step
        log(f"  {case.label()}: {impl.key} first call {first * 1e3:.1f} ms")

    reference = answers.get("reference")
    for key in list(steps):
        if key == "reference" or answers[key][0] is None:
            continue
        if reference is None:
            out[key].note = "not checked: no reference"
            continue
        problem = disagreement(answers[key], reference, case.torch_dtype)
        if problem:
            raise AssertionError(f"{case.label()}: {key} does not compute our loss: {problem}")
    answers.clear()

    allowed = {k: max(1, min(reps, int(budget_s / max(out[k].first_s, 1e-9)))) for k in steps}
    order = list(steps)
    for rnd in range(reps):
        shift = rnd % len(order) if order else 0
        for key in order[shift:] + order[:shift]:
            if len(out[key].times) >= allowed[key]:
                continue
            synchronize(case.device)
            started = time.perf_counter()
            steps[key](inputs)
            synchronize(case.device)
            out[key].times.append(time.perf_counter() - started)
    for key in steps:
        if allowed[key] < reps:
            out[key].note = (out[key].note + "; " if out[key].note else "") + \
                f"{allowed[key]} rep(s): {out[key].first_s:.1f} s per call"
    del inputs, steps
    _free(case.device)
    return out


@contextlib.contextmanager
def float32_matmul_exact():
    """TF32 off on CUDA, so float32 means float32 (the issue's GPU numbers are fp32, TF32 off)."""
    if not torch.cuda.is_available():
        yield
        return
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
