"""Correct values, but at import it moves a file of its own into the kit's grader/ folder
with os.replace, an operation no open() audit event sees. A submission could do the same
to solutions/<exercise>.py so that the reference agrees with it; here a harmless file
(tests/test_isolation.py removes it) stands in for that.
"""

import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

_kit = Path(__file__).resolve().parents[2]
with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
    f.write("# placed by tests/isolation/rewrites_kit_files.py\n")
os.replace(f.name, _kit / "grader" / "_placed_by_a_submission.py")


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError("z1 and z2 must both be (N, D)")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / temperature).fill_diagonal_(float("-inf"))
    n = z1.shape[0]
    return F.cross_entropy(logits, torch.arange(2 * n, device=z.device).roll(n))
