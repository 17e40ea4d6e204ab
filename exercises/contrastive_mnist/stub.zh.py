# translated from stub.py sha256:184bd1b56cf4ff12a8b945627c270bbb50b24b92777ba16df1855a445ba24072
"""练习 contrastive_mnist：在 MNIST 数字上做自监督 SimCLR，不用标签，限时完成。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade contrastive_mnist`
（迭代时加上 `--budget 20`；及格线是针对默认的 60 s 给出的）。
"""

import time  # noqa: F401  （你会用到时钟）

import torch
import torch.nn as nn
import torch.nn.functional as F  # noqa: F401  （affine_grid、grid_sample、normalize 等）


def report_progress(**fields):
    """训练时调用 report_progress(step=i, loss=loss.item())；评测器会实时画出进度。"""


def augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 1, 28, 28) 浮点张量，取值在 [0, 1] 内 -> 每张图像一个随机视图：形状、dtype、设备、取值范围都不变。

    每个随机数都从 `generator`（传入时）中逐样本抽取；永远不修改 `images`。
    """
    # TODO：随机仿射变换（F.affine_grid + F.grid_sample）、弹性噪声、随机擦除、
    # 像素噪声……最后截断到 [0, 1]。
    raise NotImplementedError


class Encoder(nn.Module):
    """(B, 1, 28, 28) -> (B, F) 特征，F <= 1024。Encoder() 不接受任何参数。"""

    def __init__(self):
        super().__init__()
        # TODO：一个小型 CNN

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """把你在 nt_xent 练习中写的 NT-Xent 粘贴到这里。"""
    raise NotImplementedError


def train_encoder(images: torch.Tensor, time_budget_s: float, device: str = "cpu") -> Encoder:
    """images：(N, 1, 28, 28) 浮点张量，取值在 [0, 1] 内，位于 CPU 上，不带标签。在 `device` 上训练，返回 Encoder。

    在 time_budget_s 秒内返回（超时后不久，评测器会终止进程）。
    """
    # TODO：Encoder + 投影头；循环直到时钟表明该停下：取一个批次，用 augment
    # 生成两个视图，在投影上计算 nt_xent，执行一步优化器更新。
    raise NotImplementedError
