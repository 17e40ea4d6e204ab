"""Correct: the info-nce-pytorch package's own function, with the contract's extra validation.

The package checks dimensions and sample counts itself; the contract also asks for a
ValueError on an unknown mode (even without negatives), on temperature <= 0 and on empty
inputs, which the package does not check.

expect: pass
requires: info_nce
"""

from info_nce import info_nce as package_info_nce


def info_nce(query, positive_key, negative_keys=None, temperature=0.1, negative_mode="unpaired"):
    if negative_mode not in ("unpaired", "paired"):
        raise ValueError(f"unknown negative_mode {negative_mode!r}")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    if query.dim() == 2 and (query.shape[0] < 1 or query.shape[1] < 1):
        raise ValueError("need N >= 1 and D >= 1")
    if query.shape != positive_key.shape:
        raise ValueError("query and positive_key must have the same shape")
    if negative_keys is not None and negative_mode == "paired" and negative_keys.dim() == 3 \
            and negative_keys.shape[0] != query.shape[0]:
        raise ValueError("paired negatives need one set per query")
    return package_info_nce(query, positive_key, negative_keys, temperature=temperature,
                            reduction="mean", negative_mode=negative_mode)
