"""temperature <= 0 is rejected, but NaN and infinity pass the comparison.

expect: fail knn_rejects_bad_inputs
"""
import math

import torch
import torch.nn.functional as F


def _check(query, gallery, query_labels, gallery_labels, exclude_self):
    if query.dim() != 2 or gallery.dim() != 2 or query.shape[1] != gallery.shape[1]:
        raise ValueError("query and gallery must be (N, D) and (M, D)")
    if query_labels.shape != (query.shape[0],) or gallery_labels.shape != (gallery.shape[0],):
        raise ValueError("one label per row")
    if exclude_self and query.shape[0] != gallery.shape[0]:
        raise ValueError("exclude_self needs the same set")


def _check_knn(train, train_labels, test, k, temperature):
    if train.dim() != 2 or test.dim() != 2 or train.shape[1] != test.shape[1]:
        raise ValueError("features must be 2-D with the same D")
    if train_labels.shape != (train.shape[0],):
        raise ValueError("one label per training item")
    if not (isinstance(k, int) and k >= 1):
        raise ValueError("k must be a positive int")
    if temperature <= 0:
        raise ValueError("temperature must be a finite number > 0")


def _ranks(query, gallery, query_labels, gallery_labels, exclude_self, chunk=256):
    """Rank of each query's first relevant item (0 if none); ties count against the query."""
    _check(query, gallery, query_labels, gallery_labels, exclude_self)
    q, g = F.normalize(query, dim=1), F.normalize(gallery, dim=1)
    ranks = []
    for a in range(0, len(q), chunk):
        s = q[a:a + chunk] @ g.T
        rel = query_labels[a:a + chunk, None] == gallery_labels[None, :]
        if exclude_self:
            i = torch.arange(s.shape[0])
            s[i, a + i] = -math.inf
            rel[i, a + i] = False
        best = s.masked_fill(~rel, -math.inf).max(dim=1).values
        worse_or_tied = (s >= best[:, None]) & ~rel & (s > -math.inf)
        r = 1 + worse_or_tied.sum(1)
        ranks.append(torch.where(rel.any(1), r, torch.zeros_like(r)))
    return torch.cat(ranks)


def recall_at_k(query, gallery, query_labels, gallery_labels, ks=(1, 5, 10), exclude_self=False):
    ks = list(ks)
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError("ks must be positive ints")
    r = _ranks(query, gallery, query_labels, gallery_labels, exclude_self)
    return {k: ((r > 0) & (r <= k)).float().mean().item() for k in ks}


def mean_reciprocal_rank(query, gallery, query_labels, gallery_labels, exclude_self=False):
    r = _ranks(query, gallery, query_labels, gallery_labels, exclude_self).double()
    return torch.where(r > 0, 1.0 / r.clamp_min(1), torch.zeros_like(r)).mean().item()


def knn_classify(train_features, train_labels, test_features, k=20, temperature=0.07):
    _check_knn(train_features, train_labels, test_features, k, temperature)
    classes, idx = torch.unique(train_labels, return_inverse=True)
    tr, te = F.normalize(train_features, dim=1), F.normalize(test_features, dim=1)
    k = min(k, len(tr))
    out = []
    for a in range(0, len(te), 256):
        s, nn = (te[a:a + 256] @ tr.T).topk(k, dim=1)
        w = torch.exp((s - s[:, :1]) / temperature)
        votes = torch.zeros(len(s), len(classes), dtype=w.dtype).scatter_add_(1, idx[nn], w)
        out.append(classes[votes.argmax(1)])
    return torch.cat(out)
