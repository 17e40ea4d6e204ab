"""Correct: open_clip's own ClipLoss and SigLipLoss (open_clip_torch, src/open_clip/loss.py), on one process.

open_clip's losses take features that are already L2-normalized and a scale that is already
exponentiated (its CLIP model's forward returns logit_scale.exp()), so this file normalizes the rows and
passes logit_scale.exp(), as open_clip's model does before calling its loss. open_clip's package
__init__ imports its models, transforms and tokenizer (torchvision, timm, ftfy, regex, huggingface_hub);
the loss module needs only torch, so it is loaded from its file, and the wheel can be installed with
`pip install --no-deps open_clip_torch` next to the CPU build of torch.

expect: pass
requires: open_clip
"""

import importlib.util
import os

import torch.nn.functional as F


def _open_clip_loss_module():
    folder = importlib.util.find_spec("open_clip").submodule_search_locations[0]
    spec = importlib.util.spec_from_file_location("open_clip_loss", os.path.join(folder, "loss.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_loss = _open_clip_loss_module()


def _check(image_emb, text_emb):
    if image_emb.dim() != 2 or text_emb.dim() != 2 or image_emb.shape != text_emb.shape:
        raise ValueError("image_emb and text_emb must both be (N, D) with the same shape")


def clip_loss(image_emb, text_emb, logit_scale):
    _check(image_emb, text_emb)
    return _loss.ClipLoss()(F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1), logit_scale.exp())


def siglip_loss(image_emb, text_emb, logit_scale, logit_bias):
    _check(image_emb, text_emb)
    return _loss.SigLipLoss()(F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1), logit_scale.exp(),
                              logit_bias)
