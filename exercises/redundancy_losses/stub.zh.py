# translated from stub.py sha256:5fd47ef20dbcd8319b68ea52ad16c446f43b4f237b15078f7498fd70940d4530
"""练习 redundancy_losses：实现 Barlow Twins 损失和 VICReg 损失。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade redundancy_losses`。
"""

import torch
import torch.nn.functional as F  # noqa: F401  （你多半会用到它）


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambd: float = 5e-3) -> torch.Tensor:
    """z1、z2：两个视图的 (N, D) 嵌入，N >= 2。返回 0 维的损失。"""
    # TODO：先校验输入，像不带仿射参数的 BatchNorm 那样把每个特征在批次上标准化，
    # 构造 (D, D) 的互相关矩阵 C = z1n.T @ z2n / N，再返回
    # sum_i (1 - C_ii)^2 + lambd * sum_{i != j} C_ij^2。
    raise NotImplementedError


def vicreg_loss(z1: torch.Tensor, z2: torch.Tensor, sim_coeff: float = 25.0, std_coeff: float = 25.0,
                cov_coeff: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    """z1、z2：两个视图的 (N, D) 嵌入，N >= 2。返回 0 维的损失。"""
    # TODO：先校验输入，再计算不变性项（均方误差）、方差项（作用在每个特征标准差上的铰链）
    # 和协方差项（非对角协方差的平方），并像 VICReg 作者发布的代码那样加权和归一化（见 spec.zh.md）。
    raise NotImplementedError
