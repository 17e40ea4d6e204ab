# translated from stub.py sha256:6a35ebdfddad0dddbe8564a55be66b194529efe0a137868bf2322216cfb48982
"""练习 retrieval_metrics：Recall@K、平均倒数排名（MRR）与加权 k 近邻分类。

先阅读本目录下的 spec.zh.md（英文原文为 spec.md），再运行 `grade retrieval_metrics`。
"""

import torch
import torch.nn.functional as F  # noqa: F401  （你多半会用到它）


def recall_at_k(query: torch.Tensor, gallery: torch.Tensor, query_labels: torch.Tensor,
                gallery_labels: torch.Tensor, ks=(1, 5, 10), exclude_self: bool = False) -> dict:
    """query (N, D)，gallery (M, D)，标签为 (N,) 和 (M,)。对 ks 中的每个 k，返回 {k: 在余弦最相似的
    k 个库样本中有同标签样本的查询所占的比例}。"""
    # TODO：先校验输入并归一化，再把查询分块处理：求每个查询第一个相关样本的排名
    # （并列按对查询不利的方式处理），绝不构造完整的 (N, M) 矩阵。
    raise NotImplementedError


def mean_reciprocal_rank(query: torch.Tensor, gallery: torch.Tensor, query_labels: torch.Tensor,
                         gallery_labels: torch.Tensor, exclude_self: bool = False) -> float:
    """库中第一个相关样本的 1 / rank 在所有查询上的平均（没有相关样本的查询记为 0）。"""
    # TODO：排名与 recall_at_k 中的相同。
    raise NotImplementedError


def knn_classify(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                 k: int = 20, temperature: float = 0.07) -> torch.Tensor:
    """(T,) LongTensor：对每个测试样本，在它最相似的 k 个训练样本上对 exp(cos / temperature) 按类别求和，
    返回和最大的类别；和相等时取较小的类别 id。"""
    # TODO：把测试样本分块处理：余弦的 top-k、权重、按类别投票、argmax。
    raise NotImplementedError
