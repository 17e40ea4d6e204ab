"""Reports progress the grader cannot show as numbers: an infinite step, a NaN loss, a step
too large for a float. The grader's display used to raise on them (a "grader error") and
leave the child's reply unread; they must simply not be shown."""

import torch
from torch import nn


def report_progress(**fields):   # the grader replaces this while it trains
    pass


def augment(images, generator=None):
    noise = torch.rand(images.shape, generator=generator, device=images.device)
    return (images + 0.05 * noise).clamp(0, 1)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32))

    def forward(self, images):
        return self.net(images)


def train_encoder(images, time_budget_s, device="cpu"):
    report_progress(step=float("inf"), loss=float("nan"))
    report_progress(step=10**400, loss=-float("inf"))
    report_progress(step=1, loss=0.5)
    return Encoder()
