# translated from stub.py sha256:ea30ae08a4f8f9ae1763fe37de67c22ac8aa5eef8fd26bd90c939fc0b56ec526
"""练习 supcon_loss：实现监督对比损失（SupCon，L_out）。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade supcon_loss`。
"""

import torch
import torch.nn.functional as F  # noqa: F401  （你多半会用到它）


def supcon_loss(features: torch.Tensor, labels: torch.Tensor | None = None,
                temperature: float = 0.1) -> torch.Tensor:
    """features：(B, V, D)，B 个样本各有 V 个视图；labels：(B,) 整数，或 None（每个样本自成一类）。
    返回 L_out 在有正样本的锚点上的平均值（0 维张量）。"""
    # TODO：先校验输入，把每一行归一化，构造 (BV, BV) 的 logit 并排除每个锚点自身那一项，
    # 构造正样本掩码（标签相同且不是自身），再对至少有一个正样本的锚点，
    # 求 -mean_p log_softmax 的平均。
    raise NotImplementedError
