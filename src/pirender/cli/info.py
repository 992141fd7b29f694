"""`pirender info PATH`: what a checkpoint or model directory holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COMMAND = "info"
HELP = "show the format, architecture and parameter count of a checkpoint or model directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="official checkpoint (.pt) or pirender model directory")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def run(args: argparse.Namespace) -> int:
    from pirender.models.loading import read_renderer
    from pirender.weights import official
    from pirender.weights.format import model_directory

    path: Path = args.path
    model, data = read_renderer(path)  # the file is read once: weights and what else it holds
    info: dict = {"path": str(path)}
    if model_directory(path) is not None:
        info["format"] = f"pirender model directory (format_version {data['format_version']})"
        info["provenance"] = data.get("provenance", {})
    elif "net_G_ema" in data or "net_G" in data:
        info["format"] = "official PIRender trainer checkpoint"
        info["entries"] = [k for k in official.TRAINER_KEYS if k in data]
        info["current_epoch"] = data.get("current_epoch")
        info["current_iteration"] = data.get("current_iteration")
    else:
        info["format"] = "bare generator state dict (official key names)"
    info["image_size"] = model.image_size
    info["architecture"] = model.config.to_dict()
    info["parameters"] = model.num_parameters()
    info["live_parameters"] = model.num_parameters(live_only=True)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{path}\n  format: {info['format']}")
    for key in ("entries", "current_epoch", "current_iteration", "provenance"):
        if info.get(key) not in (None, {}, []):
            print(f"  {key}: {info[key]}")
    print(f"  image size: {model.image_size} x {model.image_size} (the crops it was trained on)")
    arch = ", ".join(f"{k}={v}" for k, v in info["architecture"].items())
    print(f"  architecture: {arch}")
    dead = info["parameters"] - info["live_parameters"]
    print(f"  parameters: {info['parameters']:,} ({dead:,} in the editing res-blocks' never-computed branch)")
    return 0
