"""`pirender dub`: a video's mouth follows new speech (or another take); everything else stays the video's."""

from __future__ import annotations

import argparse
from pathlib import Path

from pirender.cli import common
from pirender.errors import InputError

COMMAND = "dub"
HELP = "dub a video to new speech (or to another take's mouth); head, eyes and background stay"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("inputs")
    group.add_argument("--source", type=Path, required=True, metavar="VIDEO", help="the video to dub")
    group.add_argument(
        "--audio", type=Path, metavar="SPEECH", help="new speech (wav/flac/mp3/m4a or a video)"
    )
    group.add_argument(
        "--mouth-from", type=Path, metavar="VIDEO|MOTION", help="take the mouth (and audio) of another take"
    )
    group.add_argument(
        "--crop",
        choices=("auto", "always", "never"),
        default="auto",
        help="find the face: auto = only when the video is not square (default)",
    )
    common.add_face_arguments(group)
    common.add_output_argument(parser)
    parser.add_argument(
        "--motion-model", type=Path, metavar="CKPT", help="audio-to-motion model (default: the bundled one)"
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed of the mouth motion (default 0)")
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="sampling temperature (1 = learnt spread, 0 = mean)"
    )
    edits = parser.add_argument_group("edits on top (as pirender edit --source VIDEO)")
    edits.add_argument("--exp", action="append", default=[], metavar="NAME=VALUE", help="expression offset")
    edits.add_argument("--pose-scale", type=float, default=1.0, help="scale the head motion (0.5 = calmer)")
    edits.add_argument("--pose-still", action="store_true", help="hold the first frame's head pose")
    common.add_model_arguments(parser)
    common.add_strict_argument(parser)


def run(args: argparse.Namespace) -> int:
    from pirender.pipelines.dub import dub
    from pirender.pipelines.output import VIDEO_OUTPUTS, check_output_path
    from pirender.pipelines.source import is_video
    from pirender.pipelines.video_edits import build_video_edit, expression_space

    if (args.audio is None) == (args.mouth_from is None):
        raise InputError("give exactly one of --audio SPEECH or --mouth-from VIDEO|MOTION")
    check_output_path(args.output, VIDEO_OUTPUTS, inputs=(args.source, args.audio, args.mouth_from))
    common.require_files(
        ("video", args.source),
        ("audio file", args.audio),
        ("mouth take", args.mouth_from),
        ("renderer", args.renderer),
        ("motion model", args.motion_model),
    )
    if not is_video(args.source):
        raise InputError(f"--source {args.source}: dub edits a video; for a photo use pirender speak")
    if not 0 <= args.temperature < float("inf"):
        raise InputError(f"--temperature must be a finite value >= 0, got {args.temperature}")
    runtime = common.runtime_kwargs(args)
    space = expression_space(runtime["extractor"])
    build_video_edit(exp=args.exp, pose_scale=args.pose_scale, pose_still=args.pose_still, space=space)
    path = dub(
        args.source,
        None if args.audio is None else str(args.audio),
        output=args.output,
        mouth_from=args.mouth_from,
        exp=args.exp,
        pose_scale=args.pose_scale,
        pose_still=args.pose_still,
        seed=args.seed,
        temperature=args.temperature,
        crop=common.crop_choice(args),
        motion_model=args.motion_model,
        **runtime,
    )
    common.print_outputs(args, path)
    return 0
