# translated from stub.py sha256:b6fa645bf879dfd25b0cd24a604116ab2260a3dfd42dd42681a69c55a5b413d0
"""练习 representation_metrics：嵌入的对齐性、均匀性与有效秩。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade representation_metrics`。
"""

import torch
import torch.nn.functional as F  # noqa: F401  （你多半会用到它）


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2) -> torch.Tensor:
    """x、y：(N, D)，两者的第 i 行构成一个正样本对。返回
    ||x_i/|x_i| - y_i/|y_i| ||^alpha 的平均值（0 维张量；Wang & Isola 2020）。"""
    # TODO：校验输入，对两者做 L2 归一化，再对各样本对距离的 alpha 次方取平均。
    raise NotImplementedError


def uniformity(x: torch.Tensor, t: float = 2) -> torch.Tensor:
    """x：(N, D)，N >= 2。返回 exp(-t ||u_i - u_j||^2) 在所有 i < j 的样本对上的平均值的 log
    （0 维张量），u 为 L2 归一化后的各行（Wang & Isola 2020）。"""
    # TODO：校验输入，归一化，计算不含自身对的两两平方距离，再做 log-mean-exp。
    raise NotImplementedError


def effective_rank(features: torch.Tensor) -> torch.Tensor:
    """features：(N, D)。对按原样使用的矩阵，把奇异值归一化为和为 1，
    返回其熵的 exp（0 维张量；Roy & Vetterli 2007）。"""
    # TODO：校验输入，求奇异值，p = s / s.sum()，再算 exp(-sum p log p)，约定 0 log 0 = 0。
    raise NotImplementedError
