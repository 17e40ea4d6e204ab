# translated from stub.py sha256:bf1e6eeaaa7f675d52f28a43129792a1268ad13f0bb68890dcbf91c063b7ce58
"""练习 info_nce：实现 InfoNCE 损失（CPC、MoCo、CLIP），支持三种给出负样本的方式。

先阅读本目录下的 spec.zh.md（题目说明），然后运行 `grade info_nce`。
"""

import torch
import torch.nn.functional as F  # noqa: F401  （多半会用到它）


def info_nce(query: torch.Tensor, positive_key: torch.Tensor, negative_keys: torch.Tensor = None,
             temperature: float = 0.1, negative_mode: str = "unpaired") -> torch.Tensor:
    """query, positive_key: (N, D)。negative_keys: None（批内）、(M, D)（"unpaired"）或 (N, M, D)（"paired"）。

    返回 0 维的平均交叉熵，目标是为每个查询挑出它的正样本键。
    """
    # TODO: 校验输入，对每个向量做 L2 归一化，按模式构造 logit
    # （批内：q k^T，目标为 i；给出 negative_keys 时：[正样本, 负样本]，目标为 0），
    # 除以温度系数，再对 N 个查询的交叉熵取平均。
    raise NotImplementedError
