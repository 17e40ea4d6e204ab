"""Wrong: wide random convolutions, never trained, whose features a linear probe already separates.

An untrained encoder with 5x5 convolutions and an average pool to 4x4 (1,024 features) reaches
about 97.3% with the full linear probe, above the 96% bar (benchmarks/mnist_calibration.py,
untrained-pooled): only the margin over a fresh Encoder() on the few-label probe catches it.

expect: fail beats_untrained_encoder
"""

import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def report_progress(**fields):
    pass


def augment(images, generator=None):
    b, dev = images.shape[0], images.device
    r = torch.rand(b, 5, generator=generator, device=dev)
    angle = (r[:, 0] - 0.5) * 0.5
    scale = 0.9 + 0.2 * r[:, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, (r[:, 2] - 0.5) * 0.3], 1),
                         torch.stack([sin, cos, (r[:, 3] - 0.5) * 0.3], 1)], 1).to(images.dtype)
    grid = F.affine_grid(theta, tuple(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, align_corners=False)
    out = out + 0.05 * torch.randn(out.shape, generator=generator, device=dev, dtype=out.dtype)
    return out.clamp(0, 1)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        return F.adaptive_avg_pool2d(F.relu(self.conv2(x)), 4).flatten(1)


def nt_xent(z1, z2, temperature=0.5):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    return F.cross_entropy(logits, torch.arange(2 * n, device=z.device).roll(n))



def train_encoder(images, time_budget_s, device="cpu"):
    return Encoder().to(device).eval()    # "the features are already good"
