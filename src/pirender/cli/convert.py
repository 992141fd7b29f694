"""`pirender convert OFFICIAL.pt OUT_DIR`: an official PIRender checkpoint -> our model directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from pirender.config import OFFICIAL_IMAGE_SIZE

COMMAND = "convert"
HELP = (
    "convert an official PIRender checkpoint to a pirender model directory (config.json + model.safetensors)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint",
        type=Path,
        help="official trainer checkpoint, e.g. epoch_00190_iteration_000400000_checkpoint.pt",
    )
    parser.add_argument("out_dir", type=Path, help="model directory to write")
    parser.add_argument(
        "--weights",
        choices=["ema", "raw"],
        default="ema",
        help="net_G_ema (default, used for inference) or net_G",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=OFFICIAL_IMAGE_SIZE,
        metavar="S",
        help=f"side of the crops it was trained on, recorded in the folder (default {OFFICIAL_IMAGE_SIZE}, the face model's)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print the key mapping")


def run(args: argparse.Namespace) -> int:
    from pirender.errors import CheckpointError
    from pirender.models.loading import load_state_dict_strict
    from pirender.models.renderer import PIRenderer
    from pirender.weights import official

    path: Path = args.checkpoint
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise CheckpointError(f"{args.out_dir}: exists and is not a directory")
    from pirender.media.output_check import check_output_dir

    check_output_dir(args.out_dir, inputs=(path,))
    data = official.read_checkpoint(path)
    state = official.generator_state_dict(data, path, args.weights)
    try:
        config = official.infer_config(state)
        ours, report = official.convert_state_dict(state, config)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    model = PIRenderer(config, image_size=config.check_image_size(args.image_size, "--image-size"))
    load_state_dict_strict(model, ours, path)
    if not args.quiet:
        print(f"{path.name}: {official.WEIGHT_SETS[args.weights]}, {len(state)} tensors")
        for src, dst, n in report:
            print(f"  {src}* -> {dst}* ({n} tensors)")
    provenance = {
        "source": path.name,
        "weights": official.WEIGHT_SETS[args.weights],
        "current_epoch": data.get("current_epoch"),
        "current_iteration": data.get("current_iteration"),
    }
    model.save_pretrained(
        args.out_dir, provenance={k: v for k, v in provenance.items() if isinstance(v, (int, str))}
    )
    print(f"wrote {args.out_dir} ({model.num_parameters():,} parameters; every key mapped, loaded strictly)")
    return 0
