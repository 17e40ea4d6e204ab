# translated from stub.py sha256:3fc271c07be0041aa8fc6a6ca954fa05b640b571db570052acb263a466108624
"""练习 negative_sampler：对比学习中的三种负样本采样器。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade negative_sampler`。
"""

import torch


def sample_negatives(labels: torch.Tensor, num_negatives: int,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """labels：(B,) 整数类别 id。返回 (B, K) int64：第 i 行是满足 labels[j] != labels[i] 的
    K 个互不相同的下标 j 组成的均匀随机集合，每一行独立抽取。"""
    # TODO：先校验输入（抛出 ValueError，指出第一个有效候选少于 K 个的锚点），
    # 再一次性抽取所有行：不要对批次做 Python 循环。传入 `generator` 时，
    # 随机性只能来自它。
    raise NotImplementedError


def hard_negatives(similarity: torch.Tensor, anchor_labels: torch.Tensor,
                   candidate_labels: torch.Tensor, num_negatives: int) -> torch.Tensor:
    """similarity：(B, M)。返回 (B, K) int64：每一行是标签不同的候选中相似度最高的 K 个，
    按相似度从高到低排列；相似度相等时下标小的在前。"""
    # TODO：校验输入，屏蔽正样本，不对每一行做完整排序就选出前 K 个，
    # 并精确处理并列。
    raise NotImplementedError


def sample_unigram(counts: torch.Tensor, num_samples: int, power: float = 0.75,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """counts：(V,) 非负计数。返回 (num_samples,) int64 id，各次独立抽取，
    P(i) 与 counts[i] ** power 成正比（计数为 0 的样本永远不会被抽中）。"""
    # TODO：校验输入，构造权重，有放回地抽取。
    raise NotImplementedError
