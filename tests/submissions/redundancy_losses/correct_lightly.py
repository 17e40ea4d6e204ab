"""Correct: lightly's own BarlowTwinsLoss (F.batch_norm in training mode, eps 1e-5, C divided by
N) and VICRegLoss (the released VICReg code's divisors, eps 1e-4), called as lightly documents
them, after this contract's validation (lightly asserts on N <= 1 instead of raising
ValueError, and accepts negative coefficients).

lightly's package __init__ files import torchvision, which does not load next to the CPU
build of torch this kit pins; the losses never use it. So this file registers lightly's
folders as bare packages and a placeholder torchvision.ops before importing the two loss
modules (benchmarks/peers.py explains the same step).

expect: pass
requires: lightly
"""

import importlib
import importlib.util
import os
import sys
import types


def _lightly_loss_modules():
    names = ("lightly.loss.barlow_twins_loss", "lightly.loss.vicreg_loss")
    try:
        importlib.import_module("torchvision.ops")
        return [importlib.import_module(n) for n in names]
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
    sys.modules["torchvision.ops"].StochasticDepth = object     # named at import, never used by the losses
    sys.modules["torchvision"].ops = sys.modules["torchvision.ops"]
    modules = [importlib.import_module(n) for n in names]
    del sys.modules["torchvision"], sys.modules["torchvision.ops"]
    return modules


_bt, _vicreg = _lightly_loss_modules()


def _validate(z1, z2, *coefficients):
    if z1.dim() != 2 or z2.dim() != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError("z1 and z2 must both be (N, D), N >= 2, with the same shape")
    if not all(c >= 0 for c in coefficients):
        raise ValueError("coefficients must be >= 0")


def barlow_twins_loss(z1, z2, lambd=5e-3):
    _validate(z1, z2, lambd)
    return _bt.BarlowTwinsLoss(lambda_param=lambd)(z1, z2)


def vicreg_loss(z1, z2, sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0, eps=1e-4):
    _validate(z1, z2, sim_coeff, std_coeff, cov_coeff, eps)
    return _vicreg.VICRegLoss(lambda_param=sim_coeff, mu_param=std_coeff, nu_param=cov_coeff, eps=eps)(z1, z2)
