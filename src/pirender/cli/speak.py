"""`pirender speak`: make a portrait speak a recording (audio -> sampled motion -> MP4 with the speech)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pirender.cli import common
from pirender.errors import InputError

COMMAND = "speak"
HELP = "make a portrait speak an audio recording (MP4 with the speech; K samples side by side)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_source_arguments(parser)
    parser.add_argument(
        "--audio", type=Path, required=True, metavar="SPEECH", help="speech (wav/flac/mp3/m4a or a video)"
    )
    common.add_output_argument(parser)
    parser.add_argument(
        "--motion-model",
        type=Path,
        metavar="CKPT",
        help="audio-to-motion model directory (default: the bundled one)",
    )
    parser.add_argument(
        "--samples", type=int, default=1, metavar="K", help="motions sampled for the speech (default 1)"
    )
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="sampling temperature (1 = learnt spread, 0 = mean)"
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument(
        "--pose-from",
        type=Path,
        metavar="VIDEO|MOTION",
        help="keep this reference head motion; only the expression follows the audio",
    )
    parser.add_argument(
        "--separate", action="store_true", help="K files OUT_0.mp4 .. instead of K panels side by side"
    )
    parser.add_argument("--fps", type=float, default=25.0, help="output frame rate (default 25)")
    common.add_model_arguments(parser)
    common.add_strict_argument(parser)


def run(args: argparse.Namespace) -> int:
    from pirender.pipelines.front_door import separate_paths
    from pirender.pipelines.output import VIDEO_OUTPUTS, check_output_path
    from pirender.pipelines.speak import speak

    if args.samples < 1:
        raise InputError(f"--samples must be >= 1, got {args.samples}")
    if not 0 <= args.temperature < float("inf"):
        raise InputError(f"--temperature must be a finite value >= 0, got {args.temperature}")
    common.check_positive(args.fps, "--fps")
    for path in separate_paths(args.output, args.samples if args.separate else 1):
        check_output_path(
            path, VIDEO_OUTPUTS, inputs=(args.source, args.audio, args.pose_from, args.source_coeffs)
        )
    common.require_files(
        ("source", args.source),
        ("audio file", args.audio),
        ("pose reference", args.pose_from),
        ("source coefficients", args.source_coeffs),
        ("renderer", args.renderer),
        ("motion model", args.motion_model),
    )
    result = speak(
        args.source,
        args.audio,
        motion_model=args.motion_model,
        output=args.output,
        samples=args.samples,
        temperature=args.temperature,
        seed=args.seed,
        pose_from=args.pose_from,
        separate=args.separate,
        fps=args.fps,
        **common.source_kwargs(args),
        **common.runtime_kwargs(args),
    )
    common.print_outputs(args, result)
    return 0
