"""`pirender demo`: reenactment, editing and audio-driven animation with the shipped SynthHead models."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pirender.cli import common

COMMAND = "demo"
HELP = "write a reenactment video, an editing grid + sweep and an audio-driven video with the shipped models"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        dest="out",
        type=Path,
        default=Path("pirender-demo"),
        help="output directory (default ./pirender-demo)",
    )
    common.add_alias(parser, "--out", dest="out")
    parser.add_argument(
        "--renderer",
        default=None,
        help="renderer checkpoint or directory (default: shipped SynthHead renderer)",
    )
    parser.add_argument("--motion-model", default=None, help="audio-to-motion model (default: shipped flow)")
    parser.add_argument(
        "--quick", action="store_true", help="a few frames per video (same code path; for CI)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import warnings

    from pirender.demo import DemoSettings, run_demo
    from pirender.errors import InputError

    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"{args.out}: exists and is not a directory")
    from pirender.media.output_check import check_output_dir

    check_output_dir(args.out)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # third-party deprecation chatter; our own errors still raise
        paths = run_demo(
            args.out,
            renderer=args.renderer,
            motion_model=args.motion_model,
            settings=DemoSettings.quick() if args.quick else DemoSettings(),
            progress=not args.no_progress,
        )
    print(f"\ndemo written to {args.out}/ in {time.perf_counter() - start:.0f} s:")
    for name in ("reenact", "edit_grid", "edit_sweep", "speak"):
        print(f"  {paths[name]}")
    return 0
