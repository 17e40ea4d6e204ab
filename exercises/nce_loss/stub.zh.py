# translated from stub.py sha256:aa012fb5d0b9d579aadccea32d492a6beeb88774ffa45421feb8902f462991b1
"""练习 nce_loss：实现噪声对比估计（NCE）损失。

先阅读本目录下的 spec.zh.md（题目说明），然后运行 `grade nce_loss`。
"""

import math  # noqa: F401  （多半会用到它）

import torch
import torch.nn.functional as F  # noqa: F401  （多半会用到它）


def nce_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor, log_q_pos: torch.Tensor = None,
             log_q_neg: torch.Tensor = None, temperature: float = 1.0) -> torch.Tensor:
    """pos_scores: (B,)，观测样本的分数；neg_scores: (B, K)，它们各自 K 个噪声样本的分数。

    log_q_pos (B,)、log_q_neg (B, K)：这些样本在噪声分布下的对数概率，要么两个都给，
    要么都不给。返回 0 维的平均损失。
    """
    # TODO: 校验输入，构造 logit s / temperature - log(K q)（不给 log_q 时为 s / temperature），
    # 然后对 batch 取二元交叉熵的平均：观测样本标为 1，它的 K 个噪声样本各标为 0
    # （对 K 个噪声样本求和）。
    raise NotImplementedError
