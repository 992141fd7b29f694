"""Our release format: a directory with `config.json` (RendererConfig, the image size it was trained
at, provenance) and `model.safetensors` (the generator weights, nothing else). Loading never
unpickles anything; both files are written and read by weights/files.py, as every model's are.

Format versions: 2 records `image_size`; version 1 folders load too, their size read from
provenance["image_size"] where `pirender train` wrote it there, else the official 256.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from pirender.config import OFFICIAL_IMAGE_SIZE, RendererConfig
from pirender.errors import CheckpointError, InputError
from pirender.media.atomic import atomic_dir
from pirender.weights import official
from pirender.weights.files import read_model_files, write_model_files

if TYPE_CHECKING:
    from pirender.models.renderer import PIRenderer

FORMAT_NAME = "pirender.renderer"
FORMAT_VERSION = 2
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save_model_dir(
    model: PIRenderer, directory: str | Path, *, provenance: dict[str, Any] | None = None
) -> Path:
    """Write model's config and weights to `directory` atomically (replacing an older one only on success)."""
    from pirender.version import __version__

    if provenance and provenance.get("image_size", model.image_size) != model.image_size:
        raise InputError("provenance['image_size'] is not read any more: set the model's image_size instead")
    directory = Path(directory)
    state = model.state_dict()
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "pirender_version": __version__,
        "config": model.config.to_dict(),
        "image_size": model.image_size,
        "num_parameters": sum(v.numel() for v in state.values()),
        "provenance": provenance or {},
    }
    with atomic_dir(directory) as tmp:
        write_model_files(
            tmp / CONFIG_FILE, tmp / WEIGHTS_FILE, meta, state, metadata={"format": FORMAT_NAME}
        )
    return directory


def read_model_dir(directory: Path) -> tuple[RendererConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """-> (config, state_dict, metadata). Every failure is a CheckpointError naming the file."""
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for p in (config_path, weights_path):
        if not p.is_file():
            raise CheckpointError(f"{directory}: not a pirender model directory (no {p.name})")
    meta, state = read_model_files(config_path, weights_path, what="renderer")
    if meta.get("format") != FORMAT_NAME or "config" not in meta:
        raise CheckpointError(f"{config_path}: not a {FORMAT_NAME} config (format={meta.get('format')!r})")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path}: format_version {meta['format_version']} is newer than this pirender supports "
            f"({FORMAT_VERSION}); upgrade pirender"
        )
    try:
        config = RendererConfig.from_dict(meta["config"])
    except (InputError, TypeError, ValueError) as e:  # RendererConfig's validation, a wrong value type
        raise CheckpointError(f"{config_path}: bad config: {e}") from None
    try:
        config.check_image_size(image_size_of(meta), "image_size")
    except InputError as e:
        raise CheckpointError(f"{config_path}: {e}") from None
    return config, state, meta


def image_size_of(meta: dict[str, Any]) -> Any:
    """The image size a model folder's metadata records (format 2), or a version 1 folder's (its
    provenance, as `pirender train` wrote it), else the official size."""
    if "image_size" in meta:
        return meta["image_size"]
    provenance = meta.get("provenance")
    size = provenance.get("image_size") if isinstance(provenance, dict) else None
    return size if isinstance(size, int) and meta.get("format_version", 1) < 2 else OFFICIAL_IMAGE_SIZE


def model_directory(path: Path) -> Path | None:
    """The pirender model directory `path` names (the directory, its config.json or its
    model.safetensors); None for anything else, which is read as an official checkpoint."""
    if path.is_dir():
        return path
    if path.name in (CONFIG_FILE, WEIGHTS_FILE):
        return path.parent
    return None


def is_official(path: str | Path) -> bool:
    """Whether `path` names the official weights: a trainer checkpoint (any file that is not a model
    directory's), or a model directory converted from one (`pirender convert`). Those were trained on
    Deep3DFaceRecon coefficients. Reads at most the directory's config.json; never raises."""
    path = Path(path)
    directory = model_directory(path)
    if directory is None:
        return path.is_file()
    try:
        meta = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    provenance = meta.get("provenance") if isinstance(meta, dict) else None
    return isinstance(provenance, dict) and provenance.get("weights") in official.WEIGHT_SETS.values()
