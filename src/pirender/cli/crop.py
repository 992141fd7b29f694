"""`pirender crop`: VoxCeleb-style square face crops of an image, video or folder, plus paste-back metadata."""

from __future__ import annotations

import argparse

from pirender.cli import common

COMMAND = "crop"
HELP = "crop the face of an image, video or folder to the official VoxCeleb-style framing"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="image, video or folder of images")
    parser.add_argument(
        "-o", "--output", required=True, help="image, .mp4, or folder (matching the input kind)"
    )
    parser.add_argument(
        "--size", type=int, default=256, help="crop side in pixels (default 256, the official size)"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="crop side relative to the official framing")
    parser.add_argument(
        "--crop-mode", dest="mode", choices=("track", "fixed"), default="track", help="crop through a video"
    )
    common.add_alias(parser, "--mode", dest="mode")
    parser.add_argument(
        "--crop-smoothing",
        dest="smoothing",
        type=float,
        default=0.5,
        help="track smoothing in seconds (0 = none)",
    )
    common.add_alias(parser, "--smoothing", dest="smoothing")
    parser.add_argument("--landmark-model", help="face_landmarker.task (default: found automatically)")
    parser.add_argument(
        "--face", type=int, metavar="N", help="crop the N-th largest face (default 1, the largest)"
    )
    parser.add_argument("--face-at", metavar="X,Y", help="crop the face at this pixel (x right, y down)")
    common.add_strict_argument(parser)
    common.add_progress_arguments(parser, quiet="no progress bars and no line about what was written")


def run(args: argparse.Namespace) -> int:
    from pirender.cli.common import face_choice
    from pirender.motion.extract.pipeline import crop_to_files

    with common.notes("crop", strict=args.strict):
        sidecar = crop_to_files(
            args.input,
            args.output,
            size=args.size,
            scale=args.scale,
            mode=args.mode,
            smoothing=args.smoothing,
            model_path=args.landmark_model,
            face=face_choice(args),
            progress=common.show_progress(args),
        )
    if not args.quiet:
        print(f"{args.output} (crop transforms in {sidecar})")
    return 0
