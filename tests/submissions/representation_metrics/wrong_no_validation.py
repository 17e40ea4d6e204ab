"""No ValueErrors at all: bad shapes, alpha, t and an all-zero matrix go through.

expect: fail rejects_bad_shapes, rejects_bad_hyperparameters, effective_rank_rejects_all_zero_matrix
"""
import math

import torch
import torch.nn.functional as F


def _check_number(value, name):
    pass


def _check_matrix(x, rows=1):
    pass


def alignment(x, y, alpha=2):
    u, v = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    return (u - v).norm(dim=-1).pow(alpha).mean()


def uniformity(x, t=2):
    u = F.normalize(x, dim=-1)
    return torch.pdist(u.reshape(u.shape[0], -1)).pow(2).mul(-t).exp().mean().log()


def effective_rank(features):
    s = torch.linalg.svdvals(features)
    p = s / s.sum()
    return torch.exp(-torch.special.xlogy(p, p).sum())
