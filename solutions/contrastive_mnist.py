"""Reference for contrastive_mnist: SimCLR on unlabeled MNIST digits, within a time budget.

SimCLR (Chen, Kornblith, Norouzi, Hinton, ICML 2020): two random views of each
image, an encoder, a small projection head, and the NT-Xent loss over the batch.
Tuned for a few CPU cores and about a minute: a small CNN with batch norm, strong
digit-friendly augmentations (affine + elastic warps, stroke thickness, erasing,
noise), temperature 0.2, AdamW with a learning rate that decays with the clock,
batches drawn without replacement (a new permutation of the images each epoch).
The projection head stays inside train_encoder; the returned Encoder is the
backbone whose features the grader evaluates.
"""

import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def report_progress(**fields):
    """The grader replaces this with a function that feeds its progress bar."""


# -- augmentations --------------------------------------------------------------------
def _uniform(n, low, high, generator, device):
    return torch.rand(n, generator=generator, device=device) * (high - low) + low


def augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 1, 28, 28) in [0, 1] -> a random view of each image, same shape, dtype, device, range."""
    if images.dim() != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"expected (B, 1, 28, 28) images, got {tuple(images.shape)}")
    b, device, dtype = images.shape[0], images.device, images.dtype
    x = images.float()
    g = generator

    # random affine map: rotation, anisotropic scale, shear, translation (one per sample)
    angle = _uniform(b, -0.3, 0.3, g, device)                       # about +-17 degrees
    scale_x = _uniform(b, 0.8, 1.15, g, device)
    scale_y = scale_x * _uniform(b, 0.9, 1.1, g, device)
    shear = _uniform(b, -0.3, 0.3, g, device)
    shift = _uniform(2 * b, -0.2, 0.2, g, device).view(b, 2)        # +-2.8 pixels
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([
        torch.stack([cos / scale_x, (-sin + shear * cos) / scale_x, shift[:, 0]], dim=1),
        torch.stack([sin / scale_y, (cos + shear * sin) / scale_y, shift[:, 1]], dim=1),
    ], dim=1)                                                        # (B, 2, 3)
    grid = F.affine_grid(theta, (b, 1, 28, 28), align_corners=False)

    # elastic warp: a smooth random displacement field, coarse noise upsampled
    coarse = torch.randn(b, 2, 4, 4, generator=g, device=device) * 0.07
    field = F.interpolate(coarse, size=(28, 28), mode="bicubic", align_corners=False)
    grid = grid + field.permute(0, 2, 3, 1)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    # stroke thickness: dilate a third of the images, erode a sixth (3x3 max pooling)
    pick = torch.rand(b, generator=g, device=device)
    thick = F.max_pool2d(x, 3, stride=1, padding=1)
    thin = -F.max_pool2d(-x, 3, stride=1, padding=1)
    x = torch.where((pick < 1 / 3).view(b, 1, 1, 1), thick, x)
    x = torch.where((pick > 5 / 6).view(b, 1, 1, 1), thin, x)

    # random erasing of one rectangle in half of the images
    size = (_uniform(2 * b, 5, 12, g, device)).view(b, 2)
    corner = torch.rand(b, 2, generator=g, device=device) * (28 - size)
    rows = torch.arange(28, device=device).view(1, 28, 1)
    cols = torch.arange(28, device=device).view(1, 1, 28)
    inside = ((rows >= corner[:, 0].view(b, 1, 1)) & (rows < (corner[:, 0] + size[:, 0]).view(b, 1, 1))
              & (cols >= corner[:, 1].view(b, 1, 1)) & (cols < (corner[:, 1] + size[:, 1]).view(b, 1, 1)))
    erase = inside & (torch.rand(b, 1, 1, generator=g, device=device) < 0.5)
    x = x.masked_fill(erase.unsqueeze(1), 0.0)

    # pixel noise
    x = x + 0.05 * torch.randn(x.shape, generator=g, device=device)
    return x.clamp(0.0, 1.0).to(dtype)


# -- the encoder ------------------------------------------------------------------------
def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


WIDTHS = (24, 48, 96)


class Encoder(nn.Module):
    """(B, 1, 28, 28) -> (B, 2 * WIDTHS[2]): three conv stages, then global average and max pooling."""

    def __init__(self):
        super().__init__()
        a, b, c = WIDTHS
        self.features = nn.Sequential(
            _block(1, a), nn.MaxPool2d(2),                 # 14 x 14
            _block(a, b), nn.MaxPool2d(2),                 # 7 x 7
            _block(b, c),
        )
        self.dim = 2 * c

    def forward(self, x):
        h = self.features(x)
        return torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)


# -- the loss (the nt_xent exercise) ------------------------------------------------------
def nt_xent(z1, z2, temperature=0.5):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    return F.cross_entropy(logits, torch.arange(2 * n, device=z.device).roll(n))


# -- training ---------------------------------------------------------------------------
BATCH = 128
TEMPERATURE = 0.2
PEAK_LR = 3e-3
WARMUP_S = 2.0
SAFETY = 0.04  # stop this fraction of the budget early (and at least 1 s), leaving time to return


def train_encoder(images: torch.Tensor, time_budget_s: float, device: str = "cpu") -> Encoder:
    """Self-supervised training on unlabeled images for at most time_budget_s seconds."""
    start = time.monotonic()
    deadline = start + time_budget_s - max(1.0, SAFETY * time_budget_s)
    images = images.to(device)
    encoder = Encoder().to(device)
    head = nn.Sequential(nn.Linear(encoder.dim, 256), nn.BatchNorm1d(256), nn.ReLU(inplace=True),
                         nn.Linear(256, 64)).to(device)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=PEAK_LR, weight_decay=1e-4)
    n = images.shape[0]
    batch = min(BATCH, n)
    train_s = max(deadline - start, 1e-3)
    step, last = 0, None
    order, position = torch.randperm(n, device=device), 0
    encoder.train()
    head.train()
    while True:
        now = time.monotonic()
        if step and now + last > deadline:  # the next step would end past the deadline
            break
        # learning rate from the clock: linear warm-up, then cosine decay to 5% of the peak
        t = (now - start) / train_s
        warm = min(1.0, (now - start) / WARMUP_S)
        lr = PEAK_LR * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))
        for group in opt.param_groups:
            group["lr"] = lr
        # without replacement: an image drawn twice in a batch would be its own negative
        if position + batch > n:
            order, position = torch.randperm(n, device=device), 0
        x = images[order[position:position + batch]]
        position += batch
        z1 = head(encoder(augment(x)))
        z2 = head(encoder(augment(x)))
        loss = nt_xent(z1, z2, TEMPERATURE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        last = time.monotonic() - now if last is None else 0.8 * last + 0.2 * (time.monotonic() - now)
        if step % 5 == 0 or step == 1:
            report_progress(step=step, loss=loss.item())
    encoder.eval()
    return encoder
