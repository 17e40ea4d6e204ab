"""Exercise retrieval_metrics: Recall@K, mean reciprocal rank and weighted k-NN classification.

Read spec.md in this folder, then run `grade retrieval_metrics`.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will probably want it)


def recall_at_k(query: torch.Tensor, gallery: torch.Tensor, query_labels: torch.Tensor,
                gallery_labels: torch.Tensor, ks=(1, 5, 10), exclude_self: bool = False) -> dict:
    """query (N, D), gallery (M, D), labels (N,) and (M,). Returns {k: fraction of queries with
    an item of their label among their k most cosine-similar gallery items} for each k in ks."""
    # TODO: validate, normalize, then in chunks of queries: the rank of each query's first
    # relevant item (ties count against the query), never the whole (N, M) matrix.
    raise NotImplementedError


def mean_reciprocal_rank(query: torch.Tensor, gallery: torch.Tensor, query_labels: torch.Tensor,
                         gallery_labels: torch.Tensor, exclude_self: bool = False) -> float:
    """The mean over queries of 1 / rank of the first relevant gallery item (0 if none)."""
    # TODO: the same ranks as recall_at_k.
    raise NotImplementedError


def knn_classify(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                 k: int = 20, temperature: float = 0.07) -> torch.Tensor:
    """(T,) LongTensor: for each test item, the class with the largest sum of exp(cos / temperature)
    over its k most similar training items; equal sums go to the smaller class id."""
    # TODO: in chunks of test items: cosine top-k, weights, votes per class, argmax.
    raise NotImplementedError
