"""`pirender train-audio`: train the audio -> motion normalizing flow (or a baseline) on (audio, motion) pairs.

Every field of AudioFlowConfig and AudioTrainConfig is a flag (`--flow-steps 8`, `--batch-size 16`);
the defaults live only in those dataclasses.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

from pirender.cli import common

COMMAND = "train-audio"
HELP = "train the audio-to-motion normalizing flow (or its Gaussian / regressor baselines)"

_FIXED_MODEL_FIELDS = {"motion_dim", "n_mels"}  # set by the coefficient layout and the audio front end


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pirender.audio.config import AudioFlowConfig, AudioTrainConfig

    parser.add_argument(
        "--data", required=True, help="LMDB root (official layout) or folder of NAME.npz + NAME.wav pairs"
    )
    parser.add_argument(
        "-o", "--output", dest="out", help="run directory (checkpoints, model/, tensorboard/); required"
    )
    common.add_alias(parser, "--out", dest="out")
    parser.add_argument(
        "--resume", action="store_true", help="continue from OUT/training_state.pt if it exists"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved configuration and exit")
    _add_dataclass_arguments(
        parser.add_argument_group("model (AudioFlowConfig)"), AudioFlowConfig, _FIXED_MODEL_FIELDS
    )
    _add_dataclass_arguments(
        parser.add_argument_group("training (AudioTrainConfig)"), AudioTrainConfig, set()
    )


def run(args: argparse.Namespace) -> int:
    if not args.out:
        from pirender.errors import InputError

        raise InputError("give -o/--output RUN_DIR")
    import torch

    from pirender.audio.config import AudioFlowConfig, AudioTrainConfig
    from pirender.audio.data import load_clips, split_clips
    from pirender.audio.train import train

    model_config = AudioFlowConfig(**_overrides(args, AudioFlowConfig))
    train_config = AudioTrainConfig(**_overrides(args, AudioTrainConfig))
    if args.dry_run:
        print(json.dumps({"model": model_config.to_dict(), "train": train_config.to_dict()}, indent=2))
        return 0
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    train_clips, val_clips = load_clips(args.data, fps=model_config.fps)
    if not val_clips and train_config.val_fraction > 0 and len(train_clips) > 1:
        train_clips, val_clips = split_clips(train_clips, train_config.val_fraction, seed=train_config.seed)
    frames = sum(c.num_frames for c in train_clips)
    print(f"train-audio: {len(train_clips)} training clips ({frames} frames), {len(val_clips)} held out")
    train(
        model_config,
        train_config,
        train_clips,
        val_clips,
        args.out,
        resume=args.resume,
        progress=not args.no_progress,
        data_description={
            "path": str(Path(args.data).resolve()),
            "train_clips": len(train_clips),
            "val_clips": len(val_clips),
        },
    )
    print(f"train-audio: model written to {Path(args.out) / 'model'}")
    return 0


def _add_dataclass_arguments(group: Any, cls: type, skip: set[str]) -> None:
    """One `--field-name` flag per dataclass field; default None means "the dataclass default"."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        hint = hints[field.name]
        flag = "--" + field.name.replace("_", "-")
        help_text = f"(default: {field.default})"
        if typing.get_origin(hint) is typing.Literal:
            group.add_argument(flag, choices=typing.get_args(hint), default=None, help=help_text)
        else:
            group.add_argument(flag, type=hint, default=None, help=help_text)


def _overrides(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    values = vars(args)
    return {f.name: values[f.name] for f in dataclasses.fields(cls) if values.get(f.name) is not None}
