"""Reference retrieval metrics: Recall@K, mean reciprocal rank, weighted k-NN classification.

Recall@K as in deep metric learning (Jegou, Douze, Schmid, "Product quantization for nearest
neighbor search", TPAMI 2011; Oh Song et al., "Deep Metric Learning via Lifted Structured
Feature Embedding", CVPR 2016): the fraction of queries with at least one item of their label
among their K nearest gallery items. Mean reciprocal rank (Voorhees, "The TREC-8 Question
Answering Track Report", 1999): the mean over queries of 1 / the rank of the first relevant
item, 0 for a query without one. Weighted k-NN (Wu, Xiong, Yu, Lin, "Unsupervised Feature
Learning via Non-Parametric Instance Discrimination", CVPR 2018, Section 3.4): each of the k
most similar training items votes for its class with weight exp(cos / temperature).

Similarities are cosines. A query's rank is 1 + the number of non-relevant gallery items at
least as similar as its most similar relevant item (ties count against the query). The
queries are processed in chunks, so no (N, M) matrix ever exists.
"""

import math

import torch
import torch.nn.functional as F

# Elements of a (chunk, gallery) block: about 10 bytes each at the peak, so ~10 MB.
BLOCK_ELEMENTS = 1 << 20


def _validate_features(query, gallery, query_labels=None, gallery_labels=None,
                       names=("query", "gallery", "query_labels", "gallery_labels")):
    for name, x in zip(names[:2], (query, gallery)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"{name} must be a 2-D tensor (rows, D) with at least one row and column, "
                             f"got {getattr(x, 'shape', type(x).__name__)}")
    if query.shape[1] != gallery.shape[1]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same dimension D, "
                         f"got {query.shape[1]} and {gallery.shape[1]}")
    for name, labels, rows in ((names[2], query_labels, query.shape[0]), (names[3], gallery_labels, gallery.shape[0])):
        if labels is None:
            continue
        if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.shape[0] != rows:
            raise ValueError(f"{name} must be a 1-D tensor of {rows} labels, got {getattr(labels, 'shape', labels)}")
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(f"{name} must hold integer class ids, got {labels.dtype}")


def _validate_positive(value, name, integer=False):
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a {'positive integer' if integer else 'finite number > 0'}, got {value!r}")


def _chunks(n_rows, n_cols):
    step = max(1, BLOCK_ELEMENTS // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)


def first_relevant_ranks(query, gallery, query_labels, gallery_labels, exclude_self=False):
    """(N,) rank of each query's first relevant gallery item (1-based), 0 where it has none."""
    _validate_features(query, gallery, query_labels, gallery_labels)
    if exclude_self and query.shape[0] != gallery.shape[0]:
        raise ValueError(f"exclude_self needs the query set to be the gallery (N == M), "
                         f"got N={query.shape[0]} and M={gallery.shape[0]}")
    q = F.normalize(query.detach(), dim=1)                               # (N, D)
    g = F.normalize(gallery.detach(), dim=1)                             # (M, D)
    ranks = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)  # (N,)
    for start, stop in _chunks(q.shape[0], g.shape[0]):
        sims = q[start:stop] @ g.T                                        # (B, M) cosines
        relevant = query_labels[start:stop, None] == gallery_labels[None, :]   # (B, M)
        if exclude_self:
            rows = torch.arange(stop - start, device=q.device)
            sims[rows, rows + start] = float("-inf")
            relevant[rows, rows + start] = False
        best = torch.where(relevant, sims, float("-inf")).amax(dim=1)  # (B,) nearest relevant
        sims.masked_fill_(relevant, float("-inf"))                      # only the others count
        ahead = (sims >= best[:, None]).sum(dim=1)                      # (B,) ties count against
        ranks[start:stop] = torch.where(relevant.any(dim=1), ahead + 1, 0)
    return ranks


def recall_at_k(query, gallery, query_labels, gallery_labels, ks=(1, 5, 10), exclude_self=False):
    """{k: fraction of queries whose first relevant item has rank <= k} for each k in ks."""
    ks = list(ks) if not isinstance(ks, int) else [ks]
    if not ks:
        raise ValueError("ks must name at least one k")
    for k in ks:
        _validate_positive(k, "each k in ks", integer=True)
    ranks = first_relevant_ranks(query, gallery, query_labels, gallery_labels, exclude_self)
    found = ranks > 0
    return {int(k): ((ranks <= k) & found).double().mean().item() for k in ks}


def mean_reciprocal_rank(query, gallery, query_labels, gallery_labels, exclude_self=False):
    """Mean over queries of 1 / rank of the first relevant item; a query without one adds 0."""
    ranks = first_relevant_ranks(query, gallery, query_labels, gallery_labels, exclude_self)
    reciprocal = torch.where(ranks > 0, 1.0 / ranks.clamp_min(1).double(), 0.0)   # (N,)
    return reciprocal.mean().item()


def knn_classify(train_features, train_labels, test_features, k=20, temperature=0.07):
    """(T,) the class with the largest sum of exp(cos / temperature) over each test item's k
    nearest training items; equal sums go to the smaller class id."""
    _validate_features(test_features, train_features, None, train_labels,
                       names=("test_features", "train_features", "", "train_labels"))
    _validate_positive(k, "k", integer=True)
    _validate_positive(temperature, "temperature")
    classes, label_index = torch.unique(train_labels, return_inverse=True)   # (C,) sorted, (N_train,)
    train = F.normalize(train_features.detach(), dim=1)                     # (N_train, D)
    test = F.normalize(test_features.detach(), dim=1)                       # (T, D)
    k = min(k, train.shape[0])
    predictions = torch.empty(test.shape[0], dtype=torch.long, device=test.device)
    for start, stop in _chunks(test.shape[0], train.shape[0]):
        sims, neighbours = (test[start:stop] @ train.T).topk(k, dim=1)      # (B, k) each
        # the row's maximum is subtracted: the same argmax, no overflow at small temperatures
        weights = torch.exp((sims - sims[:, :1]) / temperature)              # (B, k)
        votes = torch.zeros(stop - start, len(classes), dtype=weights.dtype, device=test.device)
        votes.scatter_add_(1, label_index[neighbours], weights)             # (B, C)
        predictions[start:stop] = classes[votes.argmax(dim=1)]              # first maximum: smaller id
    return predictions
