"""The framing both sides of the learner sandbox speak.

A frame is a 4-byte big-endian length, a JSON header of that length, then raw
blobs whose sizes the header lists. Values are plain data only: None, bools,
numbers, strings, lists, dicts with string keys, and tensors, which travel as
dtype + shape + raw bytes. Nothing is ever pickled, so the parent never
executes code chosen by the learner when it decodes a reply.

This module is imported by the child runner as a top-level module, so it must
not import anything from the grader package.
"""

from __future__ import annotations

import json
import os
import struct

MAX_FRAME_BYTES = 1 << 31  # a reply larger than this is a broken or hostile child
# The JSON part only carries small values (tensors travel as blobs); decoding JSON takes
# tens of bytes of memory per input byte, so a hostile header must stay small.
MAX_HEADER_BYTES = 4 << 20

_HEADER = struct.Struct(">I")


class WireError(Exception):
    """A frame that cannot be decoded: the peer died mid-write or sent junk."""


def _torch():
    import torch

    return torch


def _tensor_bytes(torch, v) -> tuple[dict, bytes]:
    """A tensor's metadata and raw bytes, read through torch's C base class with every Python
    override off: a submission may replace torch.Tensor's Python-level methods or properties
    (detach, to, numpy, shape...) in its process, return a subclass, or enter a dispatch mode,
    to forge what is sent (an input modified in place shown unmodified); the C type's own
    methods cannot be replaced."""
    from torch.utils._python_dispatch import _disable_current_modes

    base = torch._C.TensorBase

    def attr(name, t):
        return base.__dict__[name].__get__(t, base)

    # torch-function overrides, subclasses' __torch_dispatch__ and dispatch modes a submission
    # may have entered (and never left) are all off: the reads below reach torch's own kernels
    with torch._C.DisableTorchFunction(), torch._C._DisableTorchDispatch(), _disable_current_modes():
        t = base.detach(v)
        meta = {"dtype": str(attr("dtype", t)).replace("torch.", ""), "shape": list(attr("shape", t)),
                "device": attr("device", t).type, "requires_grad": bool(attr("requires_grad", v))}
        flat = base.reshape(base.contiguous(base.to(t, "cpu")), (-1,))
        if base.numel(flat) and base.stride(flat, 0) != 1:  # a size-1 view is "contiguous" with any stride
            flat = base.clone(flat, memory_format=torch.contiguous_format)
        if attr("dtype", flat) == torch.bool:
            flat = base.to(flat, torch.uint8)
        blob = base.numpy(base.view(flat, torch.uint8)).tobytes() if base.numel(flat) else b""
    return meta, blob


def encode(value) -> tuple[dict, list[bytes]]:
    """Turn a plain value tree into a JSON-able tree plus a list of blobs."""
    blobs: list[bytes] = []

    def walk(v):
        torch = _torch()
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            if v != v or v in (float("inf"), float("-inf")):
                return {"__float__": repr(v)}
            return v
        if isinstance(v, torch.Tensor):
            meta, blob = _tensor_bytes(torch, v)
            meta["__tensor__"] = len(blobs)
            blobs.append(blob)
            return meta
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {"__dict__": [[str(k), walk(x)] for k, x in v.items()]}
        raise TypeError(f"cannot send a {type(v).__name__} across the sandbox")

    return walk(value), blobs


def decode(tree, blobs: list[bytes]):
    """Inverse of encode. Tensors come back on the CPU; their original device is kept as .wire_device."""
    torch = _torch()

    def walk(v):
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            if "__tensor__" in v:
                dtype = getattr(torch, v["dtype"], None)
                if not isinstance(dtype, torch.dtype):
                    raise WireError(f"unknown dtype {v['dtype']!r}")
                raw = blobs[v["__tensor__"]]
                wire_dtype = torch.uint8 if dtype == torch.bool else dtype
                shape = v["shape"]
                if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
                    raise WireError(f"bad tensor shape {shape!r}"[:200])
                numel = 1
                for n in shape:
                    numel *= n
                if numel * wire_dtype.itemsize != len(raw):
                    raise WireError(f"tensor of shape {shape} and dtype {v['dtype']} "
                                    f"does not fit {len(raw)} bytes"[:200])
                if raw:
                    t = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(wire_dtype)
                else:
                    t = torch.empty(0, dtype=wire_dtype)
                t = t.reshape(shape)
                if dtype == torch.bool:
                    t = t.to(torch.bool)
                return Received(t, v["device"], v["requires_grad"])
            if "__float__" in v:
                return float(v["__float__"])
            if "__dict__" in v:
                return {k: walk(x) for k, x in v["__dict__"]}
            raise WireError("unknown tagged value")
        return v

    return walk(tree)


class Received:
    """A tensor as it arrived from the other side, with where it lived there."""

    __slots__ = ("tensor", "device", "requires_grad")

    def __init__(self, tensor, device: str, requires_grad: bool):
        self.tensor = tensor
        self.device = device
        self.requires_grad = requires_grad

    def __repr__(self):
        return f"Received({tuple(self.tensor.shape)}, {self.tensor.dtype}, device={self.device})"


def unwrap(value):
    """Replace every Received by its tensor (for sending inputs back and forth)."""
    if isinstance(value, Received):
        return value.tensor
    if isinstance(value, list):
        return [unwrap(x) for x in value]
    if isinstance(value, dict):
        return {k: unwrap(x) for k, x in value.items()}
    return value


def pack(message) -> bytes:
    tree, blobs = encode(message)
    header = json.dumps({"body": tree, "blobs": [len(b) for b in blobs]}).encode()
    return b"".join([_HEADER.pack(len(header)), header, *blobs])


def write_frame(fd: int, message, _write=os.write) -> None:
    data = memoryview(pack(message))
    while data:
        n = _write(fd, data[:1 << 20])
        data = data[n:]


def _read_exact(fd: int, n: int, read) -> bytes:
    chunks = []
    while n:
        chunk = read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the channel")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, read=os.read):
    # Reading may raise EOFError, OSError or the caller's timeout: those pass through as they
    # are. Anything that goes wrong decoding what was read is the peer's fault: a WireError.
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, read))
    if size > MAX_HEADER_BYTES:
        raise WireError(f"frame header of {size} bytes (at most {MAX_HEADER_BYTES})")
    raw_header = _read_exact(fd, size, read)
    try:
        header = json.loads(raw_header)
        sizes = header["blobs"]
        if not (isinstance(sizes, list) and all(type(s) is int and s >= 0 for s in sizes)):
            raise WireError("bad blob sizes")
        if sum(sizes) > MAX_FRAME_BYTES:
            raise WireError("frame too large")
    except WireError:
        raise
    except Exception as exc:  # RecursionError, MemoryError, ...: whatever junk the peer sent
        raise WireError(f"malformed frame: {type(exc).__name__}: {exc}"[:300]) from None
    blobs = [_read_exact(fd, s, read) if s else b"" for s in sizes]
    try:
        return decode(header["body"], blobs)
    except WireError:
        raise
    except Exception as exc:
        raise WireError(f"malformed frame: {type(exc).__name__}: {exc}"[:300]) from None
