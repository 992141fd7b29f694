"""`pirender reenact`: animate a portrait with a driving video or motion file, write an MP4 with sound."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pirender.cli import common

COMMAND = "reenact"
HELP = "animate a portrait with the motion of a driving video or motion file (MP4 with the driving audio)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_source_arguments(parser)
    parser.add_argument(
        "--driving", type=Path, required=True, metavar="VIDEO|MOTION", help="driving video or motion file"
    )
    common.add_output_argument(parser)
    parser.add_argument(
        "--motion",
        choices=("auto", "absolute", "relative"),
        default="auto",
        help="absolute = driving coefficients (crop scale normalised, official); relative = the driving "
        "change from its first frame added to the source's own; auto = absolute when --source is the "
        "driving video itself, else relative",
    )
    parser.add_argument(
        "--layout",
        choices=("result", "side-by-side"),
        default="result",
        help="side-by-side: source | driving | result",
    )
    parser.add_argument(
        "--audio", type=Path, help="audio track for the output (default: the driving video's)"
    )
    parser.add_argument("--no-audio", action="store_true", help="write a silent video")
    parser.add_argument("--fps", type=float, help="override the motion's frame rate")
    common.add_model_arguments(parser)
    common.add_strict_argument(parser)


def run(args: argparse.Namespace) -> int:
    from pirender.pipelines.output import VIDEO_OUTPUTS, check_output_path
    from pirender.pipelines.reenact import reenact

    check_output_path(
        args.output, VIDEO_OUTPUTS, inputs=(args.source, args.driving, args.source_coeffs, args.audio)
    )
    common.require_files(
        ("source", args.source),
        ("driving motion", args.driving),
        ("source coefficients", args.source_coeffs),
        ("audio file", args.audio),
        ("renderer", args.renderer),
    )
    common.check_positive(args.fps, "--fps")
    audio: Any = None if args.no_audio else (args.audio or "driving")
    path = reenact(
        args.source,
        args.driving,
        output=args.output,
        motion=args.motion,
        layout=args.layout,
        audio=audio,
        fps=args.fps,
        **common.source_kwargs(args),
        **common.runtime_kwargs(args),
    )
    common.print_outputs(args, path)
    return 0
