# translated from stub.py sha256:1ae03732c651cc39d0639e0e3b6d6a6a5621e8f33304e425a29c23c4af442484
"""练习 debiased_losses：去偏 InfoNCE 损失与解耦 NT-Xent 损失。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade debiased_losses`。
"""

import torch
import torch.nn.functional as F  # noqa: F401  （你多半会用到它）


def debiased_info_nce(query: torch.Tensor, positive_key: torch.Tensor, negative_keys: torch.Tensor,
                      temperature: float = 0.5, tau_plus: float = 0.1) -> torch.Tensor:
    """query、positive_key：(B, D)；negative_keys：(M, D)，由所有查询共享。返回平均损失（0 维张量）。"""
    # TODO：先校验输入，对每个向量做 L2 归一化，计算 p_i = q_i.k_i / t 和 s_ij = q_i.n_j / t，
    # 以及去偏的 N g = (sum_j e^{s_ij} - tau_plus M e^{p_i}) / (1 - tau_plus)，并在 M e^{-1/t} 处截断；
    # 再对各查询的 -log(e^{p_i} / (e^{p_i} + N g)) 取平均，t = 0.01 时也不能上溢。
    raise NotImplementedError


def decoupled_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """z1、z2：(N, D)，N >= 2，两者的第 i 行都是样本 i 的一个视图。返回平均损失（0 维张量）。"""
    # TODO：在堆叠起来的 2N 个视图上计算 NT-Xent，但分母中既去掉锚点自身，
    # 也去掉它的正样本；在 2N 个锚点上取平均。
    raise NotImplementedError
