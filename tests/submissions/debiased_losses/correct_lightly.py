"""Correct: decoupled_nt_xent is lightly's own DCLLoss (no weighting function), called as lightly
documents it; it averages the two directions, the mean over the 2N anchors. debiased_info_nce,
which lightly does not have, shifts each row by its log-sum-exp.

lightly's package __init__ files import torchvision, which does not load next to the CPU
build of torch this kit pins; the loss itself never uses it. So this file registers
lightly's folders as bare packages and a placeholder torchvision.ops before importing
lightly.loss.dcl_loss (benchmarks/peers.py explains the same step).

expect: pass
requires: lightly
"""

import importlib
import importlib.util
import os
import sys
import types

import torch
import torch.nn.functional as F


def _lightly_dcl_module():
    try:
        importlib.import_module("torchvision.ops")
        return importlib.import_module("lightly.loss.dcl_loss")
    except Exception:
        pass
    root = importlib.util.find_spec("lightly").submodule_search_locations[0]
    for name in ("lightly", "lightly.models", "lightly.models.modules", "lightly.utils", "lightly.loss"):
        sys.modules.pop(name, None)
        package = types.ModuleType(name)
        package.__path__ = [os.path.join(root, *name.split(".")[1:])]
        sys.modules[name] = package
    for name in ("torchvision", "torchvision.ops"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["torchvision.ops"].StochasticDepth = object     # named at import, never used by the loss
    sys.modules["torchvision"].ops = sys.modules["torchvision.ops"]
    module = importlib.import_module("lightly.loss.dcl_loss")
    del sys.modules["torchvision"], sys.modules["torchvision.ops"]
    return module


_DCLLoss = _lightly_dcl_module().DCLLoss


def decoupled_nt_xent(z1, z2, temperature=0.1):
    if z1.dim() != 2 or z2.dim() != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError("z1 and z2 must both be (N, D), N >= 2, with the same shape")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    return _DCLLoss(temperature=temperature)(z1, z2)


def debiased_info_nce(query, positive_key, negative_keys, temperature=0.5, tau_plus=0.1):
    if negative_keys is None or query.dim() != 2 or query.shape != positive_key.shape:
        raise ValueError("query and positive_key must be (B, D) of the same shape")
    if negative_keys.dim() != 2 or negative_keys.shape[1] != query.shape[1]:
        raise ValueError("negative_keys must be (M, D)")
    if not temperature > 0 or not 0 <= tau_plus < 1:
        raise ValueError("need temperature > 0 and 0 <= tau_plus < 1")
    m = negative_keys.shape[0]
    q = F.normalize(query, dim=1)
    pos = (q * F.normalize(positive_key, dim=1)).sum(1, keepdim=True) / temperature   # (B, 1)
    neg = q @ F.normalize(negative_keys, dim=1).T / temperature                       # (B, M)
    shift = torch.logsumexp(torch.cat([pos, neg], dim=1), dim=1, keepdim=True).detach()
    e_pos = torch.exp(pos - shift)
    ng = (torch.exp(neg - shift).sum(1, keepdim=True) - tau_plus * m * e_pos) / (1 - tau_plus)
    floor = m * torch.exp(-1 / temperature - shift)
    ng = torch.where(ng > floor, ng, floor)
    return (torch.log(e_pos + ng) + shift - pos).mean()
