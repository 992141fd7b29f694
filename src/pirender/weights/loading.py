"""`load_renderer`: one entry point for official checkpoints and our model directories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from pirender.errors import CheckpointError
from pirender.models.renderer import PIRenderer
from pirender.weights import format as our_format
from pirender.weights import official


def load_renderer(
    path: str | Path, *, device: str | torch.device = "cpu", weights: str = "ema"
) -> PIRenderer:
    """Load a renderer in eval mode; its `image_size` is the side it was trained at (a model folder's
    record, 256 for official checkpoints).

    Args:
        path: an official trainer checkpoint (`epoch_..._checkpoint.pt`, or a bare generator state
            dict), or a pirender model directory (`config.json` + `model.safetensors`).
        device: where to put the model.
        weights: official files only: "ema" loads `net_G_ema` (what inference uses), "raw" loads `net_G`.
    Raises:
        CheckpointError: the file is missing, unreadable, of the wrong kind, or does not match the
            architecture (the message lists the keys and shapes).
    """
    model, _ = read_renderer(path, weights=weights)
    return model.to(device).eval()


def read_renderer(path: str | Path, *, weights: str = "ema") -> tuple[PIRenderer, dict[str, Any]]:
    """load_renderer's work (on the CPU, in train mode), reading the file once, and what else it holds.

    Returns:
        (model, contents): contents is a model directory's metadata (its config.json), or the whole
        official checkpoint dict (trainer entries such as `current_epoch` included).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or directory")
    if weights not in official.WEIGHT_SETS:
        raise CheckpointError(f"weights must be 'ema' or 'raw', got {weights!r}")
    directory = model_directory(path)
    if directory is not None:
        if weights != "ema":
            raise CheckpointError(
                f"{directory}: a model directory holds one set of weights; weights='raw' "
                "applies to official trainer checkpoints only"
            )
        config, state, contents = our_format.read_model_dir(directory)
        model = PIRenderer(config, image_size=our_format.image_size_of(contents))
    else:
        contents = official.read_checkpoint(path)
        model, state = _from_official(contents, path, weights)
    load_state_dict_strict(model, state, path)
    return model, contents


def model_directory(path: Path) -> Path | None:
    """The pirender model directory `path` names (the directory, its config.json or its
    model.safetensors); None for anything else, which is read as an official checkpoint."""
    if path.is_dir():
        return path
    if path.name in (our_format.CONFIG_FILE, our_format.WEIGHTS_FILE):
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
        meta = json.loads((directory / our_format.CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    provenance = meta.get("provenance") if isinstance(meta, dict) else None
    return isinstance(provenance, dict) and provenance.get("weights") in official.WEIGHT_SETS.values()


def _from_official(data: dict, path: Path, weights: str) -> tuple[PIRenderer, dict[str, torch.Tensor]]:
    state = official.generator_state_dict(data, path, weights)
    try:
        config = official.infer_config(state)
        ours, _ = official.convert_state_dict(state, config)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except ValueError as e:  # shapes that describe no valid architecture
        raise CheckpointError(f"{path}: tensor shapes describe no PIRenderer architecture: {e}") from None
    return PIRenderer(config), ours


def load_state_dict_strict(model: PIRenderer, state: dict[str, torch.Tensor], source: Path) -> None:
    """load_state_dict(strict=True), but every mismatch is reported at once, in official key names
    where the source is an official file."""
    expected = model.state_dict()
    is_official = (
        source.is_file() and source.suffix != ".safetensors" and source.name != our_format.CONFIG_FILE
    )

    def name(key: str) -> str:
        return official.to_official_name(key, model.config) if is_official else key

    missing = [name(k) for k in expected if k not in state]
    unexpected = [name(k) for k in state if k not in expected]
    mis_shaped = [
        f"{name(k)} {tuple(state[k].shape)} vs expected {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} keys: {official._short_list(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} keys: {official._short_list(unexpected)}")
    if mis_shaped:
        problems.append(f"{len(mis_shaped)} shape mismatches: {official._short_list(mis_shaped, 3)}")
    not_float = [name(k) for k, v in state.items() if k in expected and not v.is_floating_point()]
    if not_float:
        problems.append(f"non-float tensors: {official._short_list(not_float)}")
    if problems:
        raise CheckpointError(
            f"{source}: weights do not match the renderer architecture: " + "; ".join(problems)
        )
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
