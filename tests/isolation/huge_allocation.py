import torch


def nt_xent(z1, z2, temperature=0.5):
    block = torch.ones(50 * 1024**3 // 4)  # 50 GB of float32
    return block.sum()
