"""Original (per-pick rejection sampler; the first draw of each pick uses `generator`, but the
redraw after a collision calls torch.rand without it). Violates "When a generator is given, all
randomness comes from it, so generators seeded alike give the same output": rows that needed a
redraw depend on torch's global RNG state. The draws themselves are uniform.

Written blind from the spec (round 3).
expect: fail same_generator_seed_same_draws
"""

import math

import torch


def _require_k(k):
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"num_negatives must be a positive int, got {k!r}")


def _raise_first_short(n_valid, k):
    bad = (n_valid < k).nonzero()
    if bad.numel():
        i = int(bad[0, 0])
        raise ValueError(f"anchor {i} has only {int(n_valid[i])} valid negatives "
                         f"(num_negatives={k})")


def sample_negatives(labels: torch.Tensor, num_negatives: int,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    _require_k(num_negatives)
    if labels.ndim != 1:
        raise ValueError("labels must be a 1-D tensor")
    k = num_negatives
    dev = labels.device
    b = labels.numel()
    if b == 0:
        return torch.empty(0, k, dtype=torch.int64, device=dev)
    uniq, inverse, counts = torch.unique(labels, sorted=True, return_inverse=True, return_counts=True)
    block_start = torch.cumsum(counts, 0) - counts
    start = block_start[inverse]
    size = counts[inverse]
    n = b - size
    _raise_first_short(n, k)
    order = torch.argsort(labels, stable=True)

    # per-pick rejection: draw a rank, redraw the rows whose rank was already taken
    out = torch.empty(b, k, dtype=torch.int64, device=dev)
    nf = n.to(torch.float64)
    for s in range(k):
        u = torch.rand(b, dtype=torch.float64, device=dev, generator=generator)
        t = (u * nf).to(torch.int64).clamp_max(n - 1)
        while s:
            clash = (out[:, :s] == t[:, None]).any(dim=1)
            if not bool(clash.any()):
                break
            redo = torch.rand(b, dtype=torch.float64, device=dev)
            t = torch.where(clash, (redo * nf).to(torch.int64).clamp_max(n - 1), t)
        out[:, s] = t
    sorted_pos = out + size.unsqueeze(1) * (out >= start.unsqueeze(1)).to(torch.int64)
    return order[sorted_pos]

def hard_negatives(similarity: torch.Tensor, anchor_labels: torch.Tensor,
                   candidate_labels: torch.Tensor, num_negatives: int) -> torch.Tensor:
    _require_k(num_negatives)
    k = num_negatives
    b, m = len(anchor_labels), len(candidate_labels)
    if similarity.ndim != 2 or similarity.shape[0] != b or similarity.shape[1] != m:
        raise ValueError(f"similarity must be ({b}, {m}), got {tuple(similarity.shape)}")
    valid = candidate_labels.view(1, m) != anchor_labels.view(b, 1)
    _raise_first_short(valid.sum(1), k)
    if b == 0:
        return torch.empty(0, k, dtype=torch.int64, device=similarity.device)
    masked = similarity.masked_fill(~valid, float("-inf"))

    width = min(k + 1, m)
    vals, idx = masked.topk(width, dim=1, largest=True, sorted=True)
    top = idx[:, :k].sort(dim=1).values
    top_vals = masked.gather(1, top)
    result = top.gather(1, top_vals.sort(dim=1, descending=True, stable=True).indices)
    if width > k:
        tie = vals[:, k] == vals[:, k - 1]
        if bool(tie.any()):
            rows = tie.nonzero().squeeze(1)
            full = masked[rows].sort(dim=1, descending=True, stable=True).indices[:, :k]
            result[rows] = full
    return result


def sample_unigram(counts: torch.Tensor, num_samples: int, power: float = 0.75,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    if counts.ndim != 1:
        raise ValueError("counts must be 1-D")
    if counts.numel() < 1:
        raise ValueError("counts must not be empty")
    c = counts.double()
    if not bool(torch.isfinite(c).all()):
        raise ValueError("counts must be finite (no nan or inf)")
    if bool((c < 0).any()):
        raise ValueError("counts must be non-negative")
    if not bool((c > 0).any()):
        raise ValueError("at least one count must be positive")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError("num_samples must be a positive int")
    if not isinstance(power, (int, float)) or isinstance(power, bool) or not math.isfinite(power) or power < 0:
        raise ValueError("power must be a finite number >= 0")
    weights = torch.where(c > 0, c.pow(power), torch.zeros_like(c))
    return torch.multinomial(weights, num_samples, replacement=True, generator=generator)
