"""A correct submission that lists folders at import: /, the kit's root and the kit's
solutions/ (on the way to, or inside, what the child may not read). Listing is allowed,
so it must grade as usual; reading the files stays refused."""

import os
import sys

import torch
import torch.nn.functional as F

KIT = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))
LISTED = [len(os.listdir(folder)) for folder in ("/", KIT, os.path.join(KIT, "solutions"))]


def nt_xent(z1, z2, temperature=0.5):
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError("z1 and z2 must both be (N, D)")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / temperature).fill_diagonal_(float("-inf"))
    n = z1.shape[0]
    return F.cross_entropy(logits, torch.arange(2 * n, device=z.device).roll(n))
