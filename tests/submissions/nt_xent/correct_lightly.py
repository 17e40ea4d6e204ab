"""Correct: lightly's own NTXentLoss with memory_bank_size=0, called as lightly documents it.

lightly's package __init__ files import torchvision, which does not load next to the CPU
build of torch this kit pins; the loss itself never uses it. So this file registers
lightly's folders as bare packages and a placeholder torchvision.ops before importing
lightly.loss.ntx_ent_loss (benchmarks/peers.py explains the same step).

expect: pass
requires: lightly
"""

import importlib
import importlib.util
import os
import sys
import types


def _lightly_loss_module():
    try:
        importlib.import_module("torchvision.ops")
        return importlib.import_module("lightly.loss.ntx_ent_loss")
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
    module = importlib.import_module("lightly.loss.ntx_ent_loss")
    del sys.modules["torchvision"], sys.modules["torchvision.ops"]
    return module


_NTXentLoss = _lightly_loss_module().NTXentLoss


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z2.dim() != 2 or z1.shape != z2.shape:
        raise ValueError("z1 and z2 must both be (N, D) with the same shape")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    return _NTXentLoss(temperature=temperature, memory_bank_size=0)(z1, z2)
