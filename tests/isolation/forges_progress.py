"""Correct values, but at import it overwrites the learner's progress record (the kit's state
folder, $CONTRASTIVE_KIT_STATE_DIR) with one that says every exercise passed, as a candidate
might to fake a mock interview's record."""

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F

STATE = Path(os.environ["CONTRASTIVE_KIT_STATE_DIR"])
try:
    STATE.mkdir(parents=True, exist_ok=True)
    forged = {name: {"passed": True, "forged": True}
              for name in ("nt_xent", "nce_loss", "info_nce", "negative_sampler", "contrastive_mnist")}
    (STATE / "progress.json").write_text(json.dumps(forged))
except OSError:
    pass


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError("z1 and z2 must both be (N, D)")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / temperature).fill_diagonal_(float("-inf"))
    n = z1.shape[0]
    return F.cross_entropy(logits, torch.arange(2 * n, device=z.device).roll(n))
