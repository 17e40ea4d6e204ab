# translated from stub.py sha256:1854dbd7cc3346e0ba563b55d8dbc71c580dc97e906f16e1ce3cba2fd80f7b38
"""练习 grad_cache_step：在很小的内存预算下求出大批次对比损失的精确梯度（GradCache）。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade grad_cache_step`。
"""

import torch


def grad_cache_step(encoder: torch.nn.Module, x1: torch.Tensor, x2: torch.Tensor, loss_fn,
                    chunk_size: int) -> float:
    """把 loss_fn(encoder(x1), encoder(x2)) 在整个批次上的梯度累加到 encoder 的 .grad 上，
    并且启用梯度时编码器一次处理的样本绝不超过 chunk_size 个。
    以 Python float 返回损失值。"""
    # TODO：先在不建计算图的情况下求出两个视图的嵌入；计算损失及其对这些嵌入的梯度；
    # 然后在建计算图的情况下对每一块重新做前向传播，并把该梯度中属于这一块的部分反向传播回去。
    raise NotImplementedError
