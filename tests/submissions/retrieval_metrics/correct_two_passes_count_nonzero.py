"""Two chunked passes over the gallery: the best relevant cosine of every query first, then the count of
non-relevant items at least as similar (torch.count_nonzero); k-NN votes with index_add_ per chunk.

expect: pass
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
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError("temperature must be a finite number > 0")


def _blocks(q, g, exclude_self, chunk=128):
    for a in range(0, len(q), chunk):
        s = q[a:a + chunk] @ g.T
        if exclude_self:
            i = torch.arange(s.shape[0])
            s[i, a + i] = -math.inf
        yield a, s


def _ranks(query, gallery, query_labels, gallery_labels, exclude_self):
    _check(query, gallery, query_labels, gallery_labels, exclude_self)
    q, g = F.normalize(query, dim=1), F.normalize(gallery, dim=1)
    best = torch.full((len(q),), -math.inf, dtype=q.dtype)
    found = torch.zeros(len(q), dtype=torch.bool)
    for a, s in _blocks(q, g, exclude_self):
        same = (query_labels[a:a + len(s), None] == gallery_labels[None, :]) & (s > -math.inf)
        best[a:a + len(s)] = torch.where(same, s, -math.inf).amax(1)
        found[a:a + len(s)] = same.any(1)
    count = torch.zeros(len(q), dtype=torch.long)
    for a, s in _blocks(q, g, exclude_self):
        differ = query_labels[a:a + len(s), None] != gallery_labels[None, :]
        count[a:a + len(s)] = torch.count_nonzero((s >= best[a:a + len(s), None]) & differ, dim=1)
    return torch.where(found, count + 1, torch.zeros_like(count))


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
    out = torch.empty(len(te), dtype=torch.long)
    for a in range(0, len(te), 100):
        s, nn = (te[a:a + 100] @ tr.T).topk(k, dim=1)
        w = torch.exp((s - s[:, :1]) / temperature)
        rows = torch.arange(len(s)).repeat_interleave(k)
        votes = torch.zeros(len(s) * len(classes), dtype=w.dtype)
        votes.index_add_(0, rows * len(classes) + idx[nn].flatten(), w.flatten())
        out[a:a + len(s)] = classes[votes.view(len(s), len(classes)).argmax(1)]
    return out
