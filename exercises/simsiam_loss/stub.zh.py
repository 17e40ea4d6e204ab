# translated from stub.py sha256:a4d8bc5eb890a5113fef635064efa27d2bf52a0a19155ad3036fc9bef5e22112
"""练习 simsiam_loss：实现 SimSiam 的对称损失及其停止梯度（stop-gradient）。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade simsiam_loss`。
"""

import torch
import torch.nn.functional as F  # noqa: F401  （你多半会用到它）


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """p1、p2：视图 1 和视图 2 的预测 (N, D)；z1、z2：两个视图的投影 (N, D)。返回 0 维的损失。"""
    # TODO：先校验四个形状，再对 D(p1, z2) 和 D(p2, z1) 取平均，其中 D(p, z) 是
    # p 与 z 之间余弦在批次上的平均值取负，且梯度不传到 z。
    raise NotImplementedError
