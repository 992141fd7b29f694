"""Reading a user's .pt / .pth file safely, and saying what is wrong with it when it cannot be read.

Every file is read with `torch.load(weights_only=True)`: tensors and plain values only, no code.
Failures become one CheckpointError sentence that says what the file is:
- not a PyTorch file at all (its size and what its first bytes look like);
- a truncated or damaged one (a torch.save zip whose directory, at its end, is missing);
- one that references code or classes (named), which is refused: pirender never unpickles those,
  and never suggests turning the safe loading off;
- a pickle the weights-only reader cannot parse.
torch's own warnings during the load (pickle protocol notes) are kept out of the user's terminal.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from pirender.errors import CheckpointError

ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTO = 0x80  # a pickle of protocol >= 2 starts with PROTO
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch's pre-1.6 format: a pickled magic number first
_KNOWN = (
    (b"\x89HDF", "an HDF5 file (Keras .h5?)"),
    (b"\x08\x01\x12", "an ONNX model"),
    (b"GGUF", "a GGUF model"),
)


def read_torch_file(path: str | os.PathLike[str], *, what: str = "checkpoint") -> Any:
    """torch.load(path, weights_only=True) on the CPU, or a CheckpointError that says what the file is.

    Args:
        what: how messages name the file's role ("checkpoint", "VGG19 weights", ...).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} not found: {path}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(ZIP_MAGIC):
        if not zipfile.is_zipfile(path):
            raise CheckpointError(
                f"{path}: a truncated or damaged PyTorch file ({size:,} bytes; the zip directory at its end"
                " is missing): download or copy it again"
            )
    elif not head or head[0] != PICKLE_PROTO:
        raise CheckpointError(f"{path}: not a PyTorch {what} ({size:,} bytes; {_looks_like(head)})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols and the like
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds (UnpicklingError, RuntimeError, EOFError...)
        raise CheckpointError(f"{path}: {_reason(e, size)}") from None


def _looks_like(head: bytes) -> str:
    for magic, name in _KNOWN:
        if head.startswith(magic):
            return f"it is {name}"
    if head[8:9] == b"{":
        return "it looks like a .safetensors file: pass it where a model folder's weights go"
    if head.lstrip()[:1] in (b"{", b"["):
        return "it is JSON text"
    if not head:
        return "it is empty"
    return "its first bytes " + head[:8].hex(" ") + " are not a torch.save file's"


def _reason(error: Exception, size: int) -> str:
    message = str(error)
    found = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", message)
    if found:
        return (
            f"refused: it references {found.group(1)}, code that unpickling would run; pirender loads"
            " only tensors and plain values from a checkpoint"
        )
    if "Weights only load failed" in message or "WeightsUnpickler" in message:
        operand = re.search(r"Unsupported operand (\d+)", message)
        detail = f" (pickle opcode {operand.group(1)})" if operand else ""
        return (
            f"a pickle that is not a torch.save file of tensors{detail}; save the weights with"
            " torch.save(state_dict, path)"
        )
    if "central directory" in message or "zip archive" in message:
        return f"a truncated or damaged PyTorch file ({size:,} bytes): download or copy it again"
    if (
        isinstance(error, EOFError)
        or "EOF" in message
        or "Ran out of input" in message
        or not message.strip()
    ):
        return f"a truncated PyTorch file ({size:,} bytes): download or copy it again"
    first = re.split(r"(?<=[.!?])\s", " ".join(message.split()), maxsplit=1)[0]
    return f"not a readable PyTorch file ({first.rstrip('.')})"
