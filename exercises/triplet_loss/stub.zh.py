# translated from stub.py sha256:6bcdc147016b4b3fd3fbd58dfa64b172bae1dd349cd6de3e87449bfe7c18143c
"""练习 triplet_loss：实现带 batch-all 和 batch-hard 挖掘的三元组损失，以及成对对比损失。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade triplet_loss`。
"""

import torch
import torch.nn.functional as F  # noqa: F401  （你可能会用到它）


def triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2,
                 mining: str = "batch_all") -> torch.Tensor:
    """embeddings：(B, D)；labels：(B,) 整数。返回三元组损失的平均值（0 维张量）。

    mining="batch_all"：对损失为正的有效三元组，求 max(d(a, p) - d(a, n) + margin, 0) 的平均。
    mining="batch_hard"：每个锚点取最远的正样本和最近的负样本；在两者兼有的锚点上求平均。
    d 是欧氏距离。
    """
    # TODO：校验输入，计算 (B, B) 的距离矩阵（相同的行之间恰好为 0，且在那里梯度有限），
    # 构造有效正样本和负样本的掩码，再按 spec 的规定做归约（没有任何项计入时返回 0，
    # 并且仍连在计算图上）。
    raise NotImplementedError


def contrastive_pair_loss(x1: torch.Tensor, x2: torch.Tensor, same: torch.Tensor,
                          margin: float = 1.0) -> torch.Tensor:
    """x1、x2：(B, D)；same：(B,) bool，相似样本对为 True。返回各样本对上
    d^2 / 2（same 为真）或 max(margin - d, 0)^2 / 2（same 为假）的平均值（0 维张量）。"""
    # TODO：校验输入，再求所有样本对上的平均。
    raise NotImplementedError
