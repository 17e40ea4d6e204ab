"""The public implementations we measure against, each called so that it computes our loss.

Every loader returns a callable with our signature or raises `Unavailable`
with a one-line reason, which the suite prints as n/a. Install them with
`pip install -e ".[bench]"` (see benchmarks/RESULTS.md for the exact,
CUDA-free way used here).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import types

import torch
import torch.nn.functional as F


class Unavailable(Exception):
    """A peer that cannot run here; the message says why."""


# -- pytorch-metric-learning ------------------------------------------------------------------
def pml_nt_xent():
    """pytorch-metric-learning's NTXentLoss, called as SimCLR needs it.

    It takes one batch of embeddings and one label per row: stack both views,
    (2N, D), and give row i and row i + N the same label (arange(N) twice).
    Each row then has exactly one positive (its partner) and 2N - 2 negatives,
    and the loss is averaged over the 2N positive pairs: exactly our loss.
    Its pair bookkeeping grows as O(N^3) memory for this labelling.
    """
    try:
        from pytorch_metric_learning.losses import NTXentLoss
    except Exception as exc:  # ImportError, or a dependency that fails to import
        raise Unavailable(f"pytorch-metric-learning not importable ({type(exc).__name__}: {exc})") from None

    def call(z1, z2, temperature):
        n = z1.shape[0]
        labels = torch.arange(n, device=z1.device).repeat(2)      # (2N,) pair id of each row
        return NTXentLoss(temperature=temperature)(torch.cat([z1, z2]), labels)

    return call


# -- lightly ------------------------------------------------------------------------------------
_LIGHTLY_SUBPACKAGES = ("lightly", "lightly.models", "lightly.models.modules", "lightly.utils", "lightly.loss")


def _load_lightly_loss_module():
    """lightly.loss.ntx_ent_loss, imported without running lightly's package __init__ files.

    `import lightly.loss` imports lightly.models, which imports torchvision at
    module level; the torchvision wheels on PyPI do not load next to the CPU
    build of torch 2.13 ("operator torchvision::nms does not exist"). The loss
    itself needs no torchvision: its file imports lightly.models.modules.memory_bank
    (whose helper module lightly.models.utils names torchvision.ops.StochasticDepth
    at import time, for a vision-transformer utility) and lightly.utils.dist.
    So when torchvision cannot be imported we register lightly's package
    folders as bare packages and give torchvision.ops a placeholder
    StochasticDepth that raises if anything ever calls it. lightly's own
    NTXentLoss and MemoryBankModule code then runs unchanged.
    """
    loaded = sys.modules.get("lightly.loss.ntx_ent_loss")
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("lightly")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("lightly not installed")
    try:
        importlib.import_module("torchvision.ops")
        return importlib.import_module("lightly.loss.ntx_ent_loss")
    except Exception:
        pass
    root = spec.submodule_search_locations[0]
    for name in _LIGHTLY_SUBPACKAGES:
        if name in sys.modules and getattr(sys.modules[name], "__file__", None):
            del sys.modules[name]          # a half-imported real package from the attempt above
        package = types.ModuleType(name)
        package.__path__ = [os.path.join(root, *name.split(".")[1:])]
        # a spec, so that importlib.util.find_spec(name) keeps working for other callers
        package.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        package.__spec__.submodule_search_locations = package.__path__
        sys.modules[name] = package
    placeholders = {}
    for name in ("torchvision", "torchvision.ops"):
        placeholders[name] = sys.modules.get(name)
        sys.modules[name] = types.ModuleType(name)

    class StochasticDepth:  # never used by NTXentLoss
        def __init__(self, *args, **kwargs):
            raise RuntimeError("torchvision is not available in this benchmark environment")

    sys.modules["torchvision.ops"].StochasticDepth = StochasticDepth
    sys.modules["torchvision"].ops = sys.modules["torchvision.ops"]
    try:
        return importlib.import_module("lightly.loss.ntx_ent_loss")
    finally:
        for name, previous in placeholders.items():   # leave no fake torchvision behind
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


def lightly_nt_xent():
    """lightly's NTXentLoss with memory_bank_size=0: in-batch negatives from both views.

    It is called as lightly documents it, loss(out0, out1) with the two views;
    with the memory bank off it builds the four (N, N) blocks, drops the self
    similarities with a boolean mask (a copy of each block) and takes one
    cross-entropy over the 2N rows: exactly our loss.
    """
    try:
        module = _load_lightly_loss_module()
    except Unavailable:
        raise
    except Exception as exc:
        raise Unavailable(f"lightly's loss module did not import ({type(exc).__name__}: {exc})") from None

    def call(z1, z2, temperature):
        return module.NTXentLoss(temperature=temperature, memory_bank_size=0)(z1, z2)

    return call


# -- the SimCLR paper's official formulation ----------------------------------------------------
LARGE_NUM = 1e9


def simclr_official_nt_xent(z1, z2, temperature):
    """A PyTorch port of the formulation in the SimCLR authors' TensorFlow code (objective.py).

    Four (N, N) blocks: view a against b, a against a, b against a, b against b;
    the self similarities in aa and bb are pushed down by subtracting a large
    finite number (1e9) instead of being removed; then one softmax
    cross-entropy for the a-anchors over [ab | aa] and one for the b-anchors
    over [ba | bb], with the partner at column i. The official code returns
    the mean over N of loss_a + loss_b, which is twice our mean over 2N
    anchors, so the port halves it.
    """
    h1, h2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    n = h1.shape[0]
    labels = torch.arange(n, device=h1.device)
    masks = torch.eye(n, device=h1.device, dtype=h1.dtype)
    logits_aa = h1 @ h1.T / temperature - masks * LARGE_NUM
    logits_bb = h2 @ h2.T / temperature - masks * LARGE_NUM
    logits_ab = h1 @ h2.T / temperature
    logits_ba = h2 @ h1.T / temperature
    loss_a = F.cross_entropy(torch.cat([logits_ab, logits_aa], dim=1), labels)
    loss_b = F.cross_entropy(torch.cat([logits_ba, logits_bb], dim=1), labels)
    return (loss_a + loss_b) / 2


# -- info-nce-pytorch ---------------------------------------------------------------------------
def info_nce_pytorch():
    """The info-nce-pytorch package's functional form, same calling convention as ours.

    info_nce(query, positive_key, negative_keys, temperature, reduction='mean',
    negative_mode): our solutions/info_nce.py follows this signature, so the
    call is one to one.
    """
    try:
        module = importlib.import_module("info_nce")
    except Exception as exc:
        raise Unavailable(f"info-nce-pytorch not importable ({type(exc).__name__}: {exc})") from None

    def call(query, positive_key, negative_keys=None, temperature=0.1, negative_mode="unpaired"):
        return module.info_nce(query, positive_key, negative_keys, temperature=temperature,
                               reduction="mean", negative_mode=negative_mode)

    return call
