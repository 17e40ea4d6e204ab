# translated from stub.py sha256:64572cf0a663e4120a146e304f97eb46f48af91d8396e188f629ebefca0601c9
"""练习 nt_xent：实现 SimCLR 的 NT-Xent 损失。

先阅读本目录下的 spec.zh.md（题目说明），然后运行 `grade nt_xent`。
"""

import torch
import torch.nn.functional as F  # noqa: F401  （多半会用到它）


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """z1, z2: (N, D)，两者的第 i 行都是样本 i 的一个视图。返回 0 维的平均损失。"""
    # TODO: 校验输入，构造 (2N, 2N) 的余弦相似度 logit，
    # 把每个锚点自身从它的分母中排除，再对全部 2N 个锚点求
    # 指向各自配对行的交叉熵，取平均。
    raise NotImplementedError
