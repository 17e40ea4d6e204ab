"""Correct: lightly's NegativeCosineSimilarity, as lightly's SimSiam example uses it: the
projections z are detached by the caller (lightly's loss itself does not detach).

lightly's package __init__ files import torchvision, which does not load next to the CPU build
of torch this kit pins; the loss's own file needs only torch, so it is loaded by its path.

expect: pass
requires: lightly
"""

import importlib.util
import os

_root = importlib.util.find_spec("lightly").submodule_search_locations[0]
_spec = importlib.util.spec_from_file_location(
    "lightly_negative_cosine_similarity", os.path.join(_root, "loss", "negative_cosine_similarity.py"))
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
_criterion = _module.NegativeCosineSimilarity()


def simsiam_loss(p1, p2, z1, z2):
    if p1.dim() != 2 or len({tuple(t.shape) for t in (p1, p2, z1, z2)}) != 1:
        raise ValueError("p1, p2, z1, z2 must share one (N, D) shape")
    return 0.5 * (_criterion(p1, z2.detach()) + _criterion(p2, z1.detach()))
