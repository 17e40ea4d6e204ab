# translated from stub.py sha256:851ebd0f8a6ca945f9d07c5249a15fc8bd940920be73fd5cfb136e983ef861c6
"""练习 clip_loss：实现 CLIP 的对称对比损失和 SigLIP 的 sigmoid 损失。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade clip_loss`。
"""

import torch
import torch.nn.functional as F  # noqa: F401  （你多半会用到它）


def clip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """image_emb、text_emb：(N, D)，两者的第 i 行构成一个匹配对；logit_scale：0 维张量，缩放系数的对数。
    返回图像到文本和文本到图像两个交叉熵的平均值（0 维张量）。"""
    # TODO：校验形状，把各行归一化，构造 (N, N) 的 logit，即 exp(logit_scale) * 余弦，
    # 再对按行和按列的交叉熵取平均。
    raise NotImplementedError


def siglip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor,
                logit_bias: torch.Tensor) -> torch.Tensor:
    """参数同 clip_loss，另加 logit_bias（0 维张量）。返回逐对的 sigmoid 损失（0 维张量）：
    对 N^2 个图文对求和，再除以 N。"""
    # TODO：logits = exp(logit_scale) * 余弦 + logit_bias；对角线上的标签为 +1，其余为 -1；
    # 返回 -(1/N) 乘以所有 log sigmoid(label * logit) 之和，并以数值稳定的方式计算。
    raise NotImplementedError
