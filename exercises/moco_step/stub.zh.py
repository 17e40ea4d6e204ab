# translated from stub.py sha256:908132af793ea191a89918ec1810bc50492690964aa03d92e418b490c7f30db2
"""练习 moco_step：实现 MoCo 的一步训练（动量编码器 + 负样本队列）。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade moco_step`。
"""

import torch
import torch.nn.functional as F  # noqa: F401  （你多半会用到它）


def moco_step(encoder_q: torch.nn.Module, encoder_k: torch.nn.Module, queue: torch.Tensor, ptr: int,
              x_q: torch.Tensor, x_k: torch.Tensor, momentum: float = 0.999,
              temperature: float = 0.07) -> tuple[torch.Tensor, int]:
    """用动量更新 encoder_k，计算查询相对于各自的键和队列 (K, D) 的 InfoNCE 损失，
    从第 ptr 行起把键写入队列（到末尾后绕回开头），返回 (loss, new_ptr)。"""
    # TODO：先校验输入；在 no_grad 下更新 encoder_k 的参数，并计算归一化后的键；
    # 计算归一化后的查询、logit [正样本 | 队列] / temperature 以及损失；
    # 把键原地写入队列；返回 (loss, (ptr + B) % K)。
    raise NotImplementedError
