"""faiss (IndexFlatIP on L2-normalized float32 rows) returns each chunk's gallery sorted by cosine; the
rank is then read off with the stated tie rule (non-relevant items at the first relevant item's cosine
count against the query). knn_classify votes over faiss's top k. faiss computes in float32.

requires: faiss

expect: pass
"""
import math

import torch
import torch.nn.functional as F
import faiss
import numpy as np


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


def _unit(x):
    return np.ascontiguousarray(F.normalize(x.detach().double(), dim=1).float().cpu().numpy())


def _ranks(query, gallery, query_labels, gallery_labels, exclude_self, chunk=128):
    _check(query, gallery, query_labels, gallery_labels, exclude_self)
    index = faiss.IndexFlatIP(gallery.shape[1])
    index.add(_unit(gallery))
    q = _unit(query)
    m = len(gallery)
    ranks = []
    for a in range(0, len(q), chunk):
        sims, ids = index.search(q[a:a + chunk], m)           # (B, M) each, most similar first
        sims, ids = torch.from_numpy(sims), torch.from_numpy(ids)
        rel = gallery_labels[ids] == query_labels[a:a + chunk, None]
        counted = torch.ones_like(rel)
        if exclude_self:
            counted = ids != torch.arange(a, a + len(ids))[:, None]
            rel &= counted
        first = rel.to(torch.uint8).argmax(dim=1)
        best = sims.gather(1, first[:, None])
        r = 1 + ((sims >= best) & ~rel & counted).sum(1)
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
    index = faiss.IndexFlatIP(train_features.shape[1])
    index.add(_unit(train_features))
    k = min(k, len(train_features))
    sims, nn = index.search(_unit(test_features), k)
    sims, nn = torch.from_numpy(sims).double(), torch.from_numpy(nn)
    w = torch.exp((sims - sims[:, :1]) / temperature)
    votes = torch.zeros(len(sims), len(classes), dtype=w.dtype).scatter_add_(1, idx[nn], w)
    return classes[votes.argmax(1)].to(test_features.device)
