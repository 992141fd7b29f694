"""`pirender train`: train a renderer on an official-layout LMDB, one process or many (torchrun).

    pirender train --preset synthhead_small --data.path data/synth128 --run_dir runs/s128
    torchrun --nproc_per_node 4 -m pirender.cli.main train --preset official_face --data.path vox
    pirender train --resume runs/s128                      # continue exactly where it stopped
    pirender train --preset synthhead_small --init-from face.pt --data.path ... --dry-run

Every TrainConfig field is a flag (`--data.batch_size 8`) and a `--set data.batch_size=8` key; both
are validated against the dataclasses (pirender.training.config), unknown keys are errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COMMAND = "train"
HELP = "train a renderer (warp stage, then full) on an LMDB dataset; supports torchrun, --resume, --init-from"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pirender.training.config import PRESETS, field_types

    parser.add_argument(
        "--preset", choices=sorted(PRESETS), help="start from a preset (default: official_face)"
    )
    parser.add_argument("--config", type=Path, help="start from a config.json written by an earlier run")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key"
    )
    parser.add_argument(
        "--resume", metavar="PATH", help="run dir, checkpoint dir or training_state.pt to continue"
    )
    parser.add_argument(
        "--init-from", metavar="PATH", help="official .pt or model dir to start the weights from"
    )
    parser.add_argument("--stop-at", type=int, metavar="STEP", help="checkpoint and stop at this global step")
    parser.add_argument(
        "--time-limit", type=float, metavar="MIN", help="checkpoint and stop after MIN minutes"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    parser.add_argument("--no-progress", action="store_true", help="log lines instead of a progress bar")
    group = parser.add_argument_group("config fields (defaults: the official recipe; see --dry-run)")
    for key, kind in field_types().items():
        group.add_argument(f"--{key}", dest=_dest(key), metavar=_metavar(kind), default=None)


def resolve_config(args: argparse.Namespace):
    """Preset / --config / resumed config, then --set, then field flags -> TrainConfig."""
    from pirender.errors import InputError
    from pirender.training import checkpoint
    from pirender.training.config import TrainConfig, apply_overrides, field_types, parse_assignments, preset

    if sum(x is not None for x in (args.preset, args.config, args.resume)) > 1:
        raise InputError("use only one of --preset, --config and --resume (a resumed run keeps its config)")
    if args.resume is not None:
        state = checkpoint.load_training_state(args.resume)
        base = TrainConfig.from_dict(json.loads(state["config"]))
    elif args.config is not None:
        try:
            base = TrainConfig.from_dict(json.loads(args.config.read_text(encoding="utf-8")))
        except json.JSONDecodeError as e:
            raise InputError(f"{args.config}: invalid JSON ({e})") from None
    else:
        base = preset(args.preset or "official_face")
    overrides = parse_assignments(args.set)
    for key in field_types():
        value = getattr(args, _dest(key), None)
        if value is not None:
            overrides[key] = value
    return apply_overrides(base, overrides)


def run(args: argparse.Namespace) -> int:
    from pirender.losses.perceptual import resolve_backbone

    config = resolve_config(args)
    if args.dry_run:
        backbone, path, message = resolve_backbone(config.loss.backbone, config.loss.vgg_weights)
        print(config.to_json())
        print(f"# loss backbone: {backbone}" + (f" ({path})" if path else ""), file=sys.stderr)
        if message:
            print(f"# warning: {message}", file=sys.stderr)
        return 0
    from pirender.training.loop import train

    result = train(
        config,
        resume=args.resume,
        init_from=args.init_from,
        stop_at_step=args.stop_at,
        time_limit_s=args.time_limit * 60 if args.time_limit else None,
        progress=not args.no_progress,
    )
    state = "finished" if result.finished else "stopped"
    print(f"pirender train: {state} at step {result.step}; run dir {result.run_dir}", file=sys.stderr)
    return 0


def _dest(key: str) -> str:
    return "cfg__" + key.replace(".", "__")


def _metavar(kind) -> str:
    import typing

    if typing.get_origin(kind) is typing.Literal:
        return "{" + ",".join(map(str, typing.get_args(kind))) + "}"
    return getattr(kind, "__name__", str(kind)).upper()
