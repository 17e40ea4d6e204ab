import torch


def ntxent(z1, z2, temperature=0.5):
    return torch.tensor(0.0)
