"""Wrong: the loss only pulls the two views together (no negatives), so the encoder collapses.

loss = -cos(z1, z2): a constant encoder minimises it. Trains at most 8 s (the bug is the loss,
not the time).

expect: fail features_not_collapsed
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
        self.net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Flatten(), nn.Linear(32 * 49, 128))

    def forward(self, x):
        return self.net(x)


def nt_xent(z1, z2, temperature=0.5):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    return F.cross_entropy(logits, torch.arange(2 * n, device=z.device).roll(n))



class PlainEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Flatten(), nn.Linear(32 * 49, 128))

    def forward(self, x):
        return self.net(x)


Encoder = PlainEncoder  # noqa: F811


def train_encoder(images, time_budget_s, device="cpu"):
    start = time.monotonic()
    encoder = Encoder().to(device)
    head = nn.Sequential(nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 64)).to(device)
    optimizer = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=3e-3)
    while time.monotonic() - start < min(time_budget_s - 1.0, 8.0):
        x = images[torch.randint(len(images), (128,))].to(device)
        z1, z2 = head(encoder(augment(x))), head(encoder(augment(x)))
        loss = -F.cosine_similarity(z1, z2, dim=1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return encoder.eval()
