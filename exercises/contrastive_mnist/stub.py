"""Exercise contrastive_mnist: self-supervised SimCLR on MNIST digits, without labels, on a clock.

Read spec.md in this folder, then run `grade contrastive_mnist` (add `--budget 20`
while you iterate; the pass bar is for the default 60 s).
"""

import time  # noqa: F401  (you will need the clock)

import torch
import torch.nn as nn
import torch.nn.functional as F  # noqa: F401  (affine_grid, grid_sample, normalize, ...)


def report_progress(**fields):
    """Call report_progress(step=i, loss=loss.item()) while training; the grader draws it live."""


def augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 1, 28, 28) float in [0, 1] -> one random view per image: same shape, dtype, device, range.

    Draw every random number from `generator` (when given), per sample; never modify `images`.
    """
    # TODO: random affine warps (F.affine_grid + F.grid_sample), elastic noise, erasing,
    # pixel noise... then clamp to [0, 1].
    raise NotImplementedError


class Encoder(nn.Module):
    """(B, 1, 28, 28) -> (B, F) features, F <= 1024. Encoder() takes no arguments."""

    def __init__(self):
        super().__init__()
        # TODO: a small CNN

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """Paste your NT-Xent from the nt_xent exercise here."""
    raise NotImplementedError


def train_encoder(images: torch.Tensor, time_budget_s: float, device: str = "cpu") -> Encoder:
    """images: (N, 1, 28, 28) float in [0, 1] on the CPU, no labels. Train on `device`, return the Encoder.

    Return within time_budget_s seconds (the grader stops the process a little after).
    """
    # TODO: Encoder + projection head; loop until the clock says stop: take a batch, make
    # two views with augment, nt_xent on the projections, step the optimizer.
    raise NotImplementedError
