"""Resume state: `<run_dir>/checkpoints/step_<step>/training_state.pt`, separate from the exported model.

Everything a bit-identical resume needs, as tensors and plain values so that it loads with
`torch.load(weights_only=True)`: raw and EMA generator weights, optimizer and scheduler state, the
step and stage, the resolved config (JSON), the loss backbone, and the RNG states. The data order is
a pure function of (seed, rank, step) (data/pairs.py), so the step restores it.

Each checkpoint directory is built under a temporary name and renamed into place, so a crash or a
kill while saving never leaves a truncated checkpoint; older ones beyond `keep` are then removed.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from pirender.errors import CheckpointError
from pirender.media.atomic import atomic_dir
from pirender.models.renderer import PIRenderer

STATE_FILE = "training_state.pt"
CHECKPOINTS = "checkpoints"
FORMAT = "pirender.training_state"
FORMAT_VERSION = 1
REQUIRED = ("format", "format_version", "step", "stage", "config", "generator", "ema", "optimizer",
            "scheduler", "rng", "backbone")  # fmt: skip
_STEP_DIR = re.compile(r"step_(\d+)")


def checkpoint_dir(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step_{step:09d}"


def rng_state() -> dict[str, torch.Tensor]:
    """The torch RNG states (CPU and, when present, every CUDA device) as uint8 tensors."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda{i}"] = s
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(state["torch"])
    cuda = [state[k] for k in sorted(state) if k.startswith("cuda")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def save_training_state(run_dir: str | Path, state: dict[str, Any], *, keep: int) -> Path:
    """Write state (a dict with REQUIRED keys) atomically; keep the newest `keep` checkpoints."""
    state = {"format": FORMAT, "format_version": FORMAT_VERSION, **state}
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise ValueError(f"training state lacks {missing}")
    directory = checkpoint_dir(run_dir, int(state["step"]))
    directory.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(directory) as tmp:
        torch.save(state, tmp / STATE_FILE)
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return directory / STATE_FILE


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoint directories, oldest first (temporary `.step_*.part` ones are skipped)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.fullmatch(p.name))]
    return [p for _, p in sorted(found) if (p / STATE_FILE).is_file()]


def find_state_file(path: str | Path) -> Path:
    """A run dir (-> its newest checkpoint), a checkpoint dir, or a training_state.pt file."""
    path = Path(path)
    if path.is_file():
        return path
    if (path / STATE_FILE).is_file():
        return path / STATE_FILE
    checkpoints = list_checkpoints(path)
    if not checkpoints:
        raise CheckpointError(f"{path}: no {STATE_FILE} found (expected a run directory or a checkpoint)")
    return checkpoints[-1] / STATE_FILE


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Load and validate a resume state (weights_only=True). Errors name the file."""
    file = find_state_file(path)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{file}: unreadable training state: {str(e).splitlines()[0][:200]}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{file}: not a pirender training state")
    if state["format_version"] > FORMAT_VERSION:
        raise CheckpointError(f"{file}: format_version {state['format_version']} is newer than supported")
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"{file}: training state lacks {missing}")
    state["path"] = str(file)
    return state


def load_generator(state: dict[str, Any], which: str = "ema") -> PIRenderer:
    """The plain PIRenderer held by a training state: `which` = "ema" or "generator" weights, with a
    standardized mapping.first (config standardize_coeffs) folded back (training/standardize.py)."""
    from pirender.training.config import TrainConfig
    from pirender.training.standardize import fold_state_dict

    config = TrainConfig.from_dict(json.loads(state["config"]))
    weights = state[which]
    if state.get("coeff_stats") is not None:
        weights = fold_state_dict(weights, state["coeff_stats"]["mean"], state["coeff_stats"]["std"])
    model = PIRenderer(config.renderer, image_size=config.data.size)
    model.load_state_dict(weights, strict=True)
    return model.eval()
