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


# -- class labels (negative_sampler) ----------------------------------------------------------
@dataclass(frozen=True)
class LabelCase:
    """A batch of b class labels from `classes` classes with Zipf-skewed sizes (skew 0 = even).

    Label values are arbitrary integers (negative and large ones too), not 0..classes-1.
    """

    b: int
    classes: int
    skew: float
    seed: int

    def labels(self) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed)
        weights = torch.arange(1, self.classes + 1, dtype=torch.float64).pow(-self.skew)
        ids = torch.multinomial(weights, self.b, replacement=True, generator=gen)
        values = torch.randperm(4 * self.classes, generator=gen)[:self.classes] * 37 - 1000
        return values[ids]


def label_cases(b=st.integers(min_value=1, max_value=512), classes=st.integers(min_value=1, max_value=50),
                skew=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0])):
    return st.builds(LabelCase, b=b, classes=classes, skew=skew, seed=seeds)


# -- scores of observed and noise samples (nce_loss) ----------------------------------------
@dataclass(frozen=True)
class NceCase:
    """b observed samples with k noise samples each; log_q: whether noise log-probabilities are given.

    Scores are N(0, scale^2); log-probabilities are uniform in [-12, -0.5] (q between 6e-6 and 0.6).
    """

    b: int
    k: int
    temperature: float
    dtype: str
    log_q: bool
    seed: int

    @property
    def torch_dtype(self) -> torch.dtype:
        return FLOAT_DTYPES[self.dtype]

    def tensors(self, scale: float = 2.0) -> list:
        """[pos_scores (b,), neg_scores (b, k), log_q_pos (b,) or None, log_q_neg (b, k) or None]."""
        gen = torch.Generator().manual_seed(self.seed)
        make = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64)  # noqa: E731
        pos, neg = make(self.b).mul(scale), make(self.b, self.k).mul(scale)
        out = [pos, neg, None, None]
        if self.log_q:
            lq = lambda *shape: -torch.empty(*shape, dtype=torch.float64).uniform_(0.5, 12.0, generator=gen)  # noqa: E731
            out[2], out[3] = lq(self.b), lq(self.b, self.k)
        return [t if t is None else t.to(self.torch_dtype) for t in out]


def nce_cases(b=st.integers(min_value=1, max_value=64), k=st.integers(min_value=1, max_value=32),
              temperature=temperatures, dtype=float_dtype_names, log_q=st.booleans()):
    return st.builds(NceCase, b=b, k=k, temperature=temperature, dtype=dtype, log_q=log_q, seed=seeds)


# -- queries, positive keys and negative keys (info_nce) ------------------------------------
INFO_NCE_MODES = ("in-batch", "unpaired", "paired")


@dataclass(frozen=True)
class InfoNceCase:
    """n queries of dimension d with their positive keys, and m negatives per the mode.

    mode "in-batch": no negative_keys (negative_mode left at its default);
    "unpaired": negative_keys (m, d); "paired": negative_keys (n, m, d).
    """

    n: int
    m: int
    d: int
    mode: str
    temperature: float
    dtype: str
    seed: int

    @property
    def torch_dtype(self) -> torch.dtype:
        return FLOAT_DTYPES[self.dtype]

    @property
    def negative_mode(self) -> str:
        return "paired" if self.mode == "paired" else "unpaired"

    def tensors(self, scale: float = 1.0) -> list:
        """[query (n, d), positive_key (n, d), negative_keys or None]."""
        gen = torch.Generator().manual_seed(self.seed)
        make = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64).mul(scale)  # noqa: E731
        query, positive = make(self.n, self.d), make(self.n, self.d)
        negatives = {"in-batch": None, "unpaired": (self.m, self.d), "paired": (self.n, self.m, self.d)}[self.mode]
        out = [query, positive, None if negatives is None else make(*negatives)]
        return [t if t is None else t.to(self.torch_dtype) for t in out]


def info_nce_cases(n=st.integers(min_value=1, max_value=48), m=st.integers(min_value=1, max_value=48),
                   d=st.integers(min_value=1, max_value=64), mode=st.sampled_from(INFO_NCE_MODES),
                   temperature=temperatures, dtype=float_dtype_names):
    return st.builds(InfoNceCase, n=n, m=m, d=d, mode=mode, temperature=temperature, dtype=dtype, seed=seeds)


# -- embeddings with class labels (triplet_loss) ----------------------------------------------
MININGS = ("batch_all", "batch_hard")
margins = st.one_of(st.sampled_from([0.0, 0.2, 0.5, 1.0]),
                    st.floats(min_value=0.0, max_value=2.0, allow_nan=False, allow_infinity=False))


def exact_distances(x: torch.Tensor) -> torch.Tensor:
    """(B, B) float64 Euclidean distances from the rows' differences (0 between identical rows)."""
    x = x.double()
    return torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")


def hinge_gap(x: torch.Tensor, labels: torch.Tensor, margin: float, mining: str) -> float:
    """How far (float64) the input is from a kink or a tie, where correct formulations of the
    triplet loss may differ: the smallest |d(a,p) - d(a,n) + margin| over the triplets that
    count, and for batch_hard also the smallest gap between an anchor's two farthest
    positives or two nearest negatives (inf when there is nothing to compare)."""
    inf = float("inf")
    d = exact_distances(x)                                                          # (B, B)
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool)
    negative = ~same
    if mining == "batch_all":
        # for each positive pair, the negative distance nearest to d(a, p) + margin, by bisection
        near = d.masked_fill(~negative, inf).sort(1).values                         # (B, B) ascending
        target = (d + margin).masked_fill(~positive, 0.0)                           # (B, B)
        at = torch.searchsorted(near, target).clamp(max=len(labels) - 1)            # (B, B)
        gaps = torch.minimum((near.gather(1, at) - target).abs(),
                             (near.gather(1, (at - 1).clamp(min=0)) - target).abs())
        gaps = gaps.nan_to_num(inf, inf, inf).masked_fill(~positive, inf)
        return gaps.min().item() if gaps.numel() else inf
    both = positive.any(1) & negative.any(1)
    if not both.any():
        return inf
    k = min(2, len(labels))
    far = d.masked_fill(~positive, -inf).topk(k, 1).values[both]                   # (A, k) descending
    near = d.masked_fill(~negative, inf).topk(k, 1, largest=False).values[both]    # (A, k) ascending
    gaps = (far[:, 0] - near[:, 0] + margin).abs()
    if k > 1:
        gaps = torch.cat([gaps, (far[:, 0] - far[:, 1]).nan_to_num(inf, inf, inf),
                          (near[:, 1] - near[:, 0]).nan_to_num(inf, inf, inf)])
    return gaps.min().item()


@dataclass(frozen=True)
class TripletCase:
    """b rows of dimension d with labels from `classes` classes, a margin and a mining.

    Rows are N(0, 1/d) (distances near sqrt(2)); labels are arbitrary integers, negative
    ones too. tensors() redraws the rows (seed + 1, + 2, ...) until hinge_gap >= gap: at a
    kink or a tie, correct formulations legitimately give different subgradients (and, in
    batch_all, a different count of positive losses)."""

    b: int
    d: int
    classes: int
    margin: float
    mining: str
    dtype: str
    seed: int

    @property
    def torch_dtype(self) -> torch.dtype:
        return FLOAT_DTYPES[self.dtype]

    def labels(self) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed)
        values = torch.randperm(4 * self.classes, generator=gen)[:self.classes] * 37 - 1000
        return values[torch.randint(self.classes, (self.b,), generator=gen)]

    def tensors(self, gap: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
        """(embeddings (b, d) of the case's dtype, labels (b,) int64)."""
        labels = self.labels()
        for attempt in range(1, 200):
            gen = torch.Generator().manual_seed(self.seed + attempt)
            x = (torch.randn(self.b, self.d, generator=gen, dtype=torch.float64) / self.d ** 0.5)
            x = x.to(self.torch_dtype)
            if hinge_gap(x, labels, self.margin, self.mining) >= gap:
                return x, labels
        raise RuntimeError(f"no input without a kink within {gap:g} for {self}")


def triplet_cases(b=st.integers(min_value=1, max_value=48), d=st.integers(min_value=1, max_value=64),
                  classes=st.integers(min_value=1, max_value=12), margin=margins,
                  mining=st.sampled_from(MININGS), dtype=float_dtype_names):
    return st.builds(TripletCase, b=b, d=d, classes=classes, margin=margin, mining=mining, dtype=dtype,
                     seed=seeds)


# -- small encoders the grader builds in the child (moco_step, grad_cache_step) ----------------
@dataclass(frozen=True)
class MlpCase:
    """An MLP with layer sizes `sizes` (in, hidden..., out), an activation between the linear
    layers and, if batchnorm, a BatchNorm1d after each hidden linear layer; weights drawn from
    seed (the running statistics too, so that they are not the defaults)."""

    sizes: tuple
    activation: str
    batchnorm: bool
    dtype: str
    seed: int

    @property
    def torch_dtype(self) -> torch.dtype:
        return FLOAT_DTYPES[self.dtype]

    @property
    def label(self) -> str:
        norm = ", batchnorm" if self.batchnorm else ""
        return f"MLP {'-'.join(map(str, self.sizes))} ({self.activation}{norm}, {self.dtype})"

    def module(self) -> torch.nn.Sequential:
        layers = []
        for i, (n_in, n_out) in enumerate(zip(self.sizes, self.sizes[1:])):
            layers.append(torch.nn.Linear(n_in, n_out))
            if i < len(self.sizes) - 2:
                if self.batchnorm:
                    layers.append(torch.nn.BatchNorm1d(n_out))
                layers.append({"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[self.activation]())
        module = torch.nn.Sequential(*layers).to(self.torch_dtype)
        gen = torch.Generator().manual_seed(self.seed)
        with torch.no_grad():
            for name, t in module.state_dict().items():
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=gen, dtype=torch.float64) + 0.5)
                elif t.is_floating_point():
                    t.copy_(torch.randn(t.shape, generator=gen, dtype=torch.float64) / max(1, t.shape[-1]) ** 0.5)
        return module


def module_description(module: torch.nn.Sequential, grads: dict | None = None) -> dict:
    """The plain data from which the child rebuilds module (Learner.build_module): its layers'
    names and sizes, its dtype and state_dict, and optional .grad per parameter name."""
    layers = []
    for layer in module:
        if isinstance(layer, torch.nn.Linear):
            layers.append(["linear", layer.in_features, layer.out_features])
        elif isinstance(layer, torch.nn.BatchNorm1d):
            layers.append(["batchnorm", layer.num_features])
        else:
            layers.append([{torch.nn.ReLU: "relu", torch.nn.Tanh: "tanh"}[type(layer)]])
    dtype = next(module.parameters()).dtype
    return {"layers": layers, "dtype": str(dtype).removeprefix("torch."),
            "state": {k: v.detach().clone() for k, v in module.state_dict().items()},
            "grads": {k: g.detach().clone() for k, g in (grads or {}).items()}}

