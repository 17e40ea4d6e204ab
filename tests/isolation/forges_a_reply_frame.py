"""Writes its own frame on the grader's reply channel at import: a tensor whose shape does not
match its bytes (the parent once crashed with a traceback on this)."""

import json
import os
import struct
import sys

body = {"body": {"__dict__": [["ok", True], ["value", {"__tensor__": 0, "dtype": "float32", "shape": [1000],
                                                        "device": "cpu", "requires_grad": False}]]},
        "blobs": [4]}
header = json.dumps(body).encode()
os.write(int(sys.argv[2]), struct.pack(">I", len(header)) + header + b"\0\0\0\0")


def nt_xent(z1, z2, temperature=0.5):
    raise NotImplementedError
