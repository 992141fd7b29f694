"""`pirender bench`: renderer speed on this machine, side by side with the official way of running it."""

from __future__ import annotations

import argparse
import platform

COMMAND = "bench"
HELP = "measure renderer frames/s and peak memory against a plain per-frame eager baseline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=256, help="image size (default 256)")
    parser.add_argument("--batches", default="1,2,4,8", help="batch sizes to try (default 1,2,4,8)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-case peak-RSS child processes")


def run(args: argparse.Namespace) -> int:
    import torch

    from pirender.bench.renderer_speed import bench_renderer, format_rows
    from pirender.errors import InputError

    try:
        batches = tuple(int(b) for b in args.batches.split(","))
    except ValueError:
        raise InputError(f"--batches must be comma-separated integers, got {args.batches!r}") from None
    if args.size % 32 or args.size <= 0 or min(batches) < 1 or args.rounds < 1:
        raise InputError("--size must be a positive multiple of 32; batches and rounds must be >= 1")
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"threads {args.threads or torch.get_num_threads()}, {args.size}x{args.size}, default architecture, float32"
    )
    rows = bench_renderer(
        size=args.size,
        batches=batches,
        rounds=args.rounds,
        threads=args.threads,
        measure_memory=not args.no_memory,
    )
    print(format_rows(rows))
    best = max(rows[1:], key=lambda r: r["fps"])
    print(f"best: {best['case']}: {best['fps']:.2f} frames/s, {best['speedup']:.2f}x the baseline")
    return 0
