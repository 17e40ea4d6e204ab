"""Switches the child's audit hook off from plain Python (gc, then emptying the closures of
its checks), then reads the labels of the kit's MNIST subset at import: only the kernel
(Landlock) can refuse this."""

import gc
import lzma
import os
import sys

for obj in gc.get_objects():
    if type(obj).__name__ == "function" and obj.__closure__:
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__):
            if name in ("dirs", "private", "blocked"):
                cell.cell_contents = ()

DATA = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "data")
with open(os.path.join(DATA, "mnist5k-labels-idx1-ubyte.xz"), "rb") as f:
    LABELS = lzma.decompress(f.read())[8:]

from reads_mnist_labels import Encoder, augment, train_encoder  # noqa: E402,F401
