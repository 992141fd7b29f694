"""`load_renderer`: one entry point for official checkpoints and our model directories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pirender.errors import CheckpointError, InputError
from pirender.models.renderer import PIRenderer
from pirender.weights import format as our_format
from pirender.weights import official
from pirender.weights.format import model_directory
from pirender.weights.strict import load_strict


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


def _from_official(data: dict, path: Path, weights: str) -> tuple[PIRenderer, dict[str, torch.Tensor]]:
    state = official.generator_state_dict(data, path, weights)
    try:
        config = official.infer_config(state)
        ours, _ = official.convert_state_dict(state, config)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (InputError, ValueError) as e:  # shapes that describe no valid architecture
        raise CheckpointError(f"{path}: tensor shapes describe no PIRenderer architecture: {e}") from None
    return PIRenderer(config), ours


def load_state_dict_strict(model: PIRenderer, state: dict[str, torch.Tensor], source: Path) -> None:
    """load_state_dict(strict=True), but every mismatch is reported at once (weights/strict.py), in
    official key names where the source is an official file."""
    is_official = (
        source.is_file() and source.suffix != ".safetensors" and source.name != our_format.CONFIG_FILE
    )

    def name(key: str) -> str:
        return official.to_official_name(key, model.config) if is_official else key

    load_strict(model, state, source, what="renderer", name=name, float_only=True)
