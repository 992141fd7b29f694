"""A model's two files, the one way every pirender model is written and read: a JSON config (its
architecture, format and provenance) and a safetensors file of its weights, nothing unpickled.

The renderer and the audio flow keep them in a model folder (`config.json` + `model.safetensors`,
weights/format.py and audio/model.py), the SynthHead extractor as a pair beside each other
(`synthhead_extractor.safetensors` + `.json`); all three write through `write_model_files` (both
files replaced together, only on success) and read through `read_model_files` (every failure a
one-line CheckpointError naming the file), then load the weights with weights/strict.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from pirender.errors import CheckpointError


def write_model_files(
    config_path: Path,
    weights_path: Path,
    meta: dict[str, Any],
    state: dict[str, torch.Tensor],
    *,
    metadata: dict[str, str] | None = None,
) -> None:
    """Write `meta` as JSON to config_path and `state` to weights_path, each through a temporary file
    in its own folder, replaced only once both are written (a failure leaves the old pair)."""
    from safetensors.torch import save_file

    temporary = [p.with_name(f".{p.name}.tmp{os.getpid()}") for p in (config_path, weights_path)]
    try:
        config_path.parent.mkdir(parents=True, exist_ok=True)
        weights_path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
        save_file(state, str(temporary[1]), metadata=metadata)
        temporary[0].write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary[1], weights_path)
        os.replace(temporary[0], config_path)
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)


def read_model_files(
    config_path: Path, weights_path: Path, *, what: str
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """-> (the config's JSON object, the weights). CheckpointError when a file is missing, the config
    is not a JSON object, or the weights are not a readable safetensors file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    for path in (config_path, weights_path):
        if not path.is_file():
            raise CheckpointError(f"{what}: {path} not found")
    try:
        meta = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        raise CheckpointError(f"{config_path}: invalid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{config_path}: not a {what} config (a JSON {type(meta).__name__})")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights_path}: unreadable safetensors file: {e}") from None
    return meta, state
