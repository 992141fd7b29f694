"""`pirender bench`: frames/s, peak memory and fidelity of every backend and precision, in one run."""

from __future__ import annotations

import argparse
import platform

from pirender.cli import common

COMMAND = "bench"
HELP = "measure frames/s, peak memory and fidelity of each engine path against the official-style baseline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="256,128", help="image sizes, comma-separated (default 256,128)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    parser.add_argument(
        "--renderer", dest="checkpoint", default=None, help="real weights instead of the spec's rule weights"
    )
    common.add_alias(parser, "--checkpoint", dest="checkpoint")
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the per-case peak-memory child processes"
    )
    parser.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime cases")
    parser.add_argument(
        "--stream",
        type=int,
        default=None,
        metavar="N",
        help="instead: peak RSS of a 1000-frame 256x256 motion streamed into an MP4, rendering its first N frames",
    )
    parser.add_argument(
        "--emulated-bf16", action="store_true", help="also time bf16 on CPUs without native bf16 (very slow)"
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from pirender.bench.renderer_speed import bench_renderer, default_cases, format_results
    from pirender.engine.core import bf16_supported
    from pirender.errors import InputError

    try:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    except ValueError:
        raise InputError(f"--sizes must be comma-separated integers, got {args.sizes!r}") from None
    if min(sizes) <= 0 or any(s % 32 for s in sizes) or args.rounds < 1:
        raise InputError("--sizes must be positive multiples of 32 and --rounds >= 1")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available")
    if args.stream is not None:
        return _stream(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = default_cases(device=args.device, include_emulated_bf16=args.emulated_bf16)
    if args.no_onnx:
        cases = [c for c in cases if c.backend != "onnx"]
    threads = args.threads or torch.get_num_threads()
    device = (
        torch.cuda.get_device_name(args.device)
        if args.device.startswith("cuda")
        else (platform.processor() or platform.machine())
    )
    print(
        f"torch {torch.__version__}, {device}, threads {threads}, native bf16: "
        f"{bf16_supported(torch.device(args.device))}; weights: {args.checkpoint or 'spec rule weights'}"
    )
    results = bench_renderer(
        sizes=sizes,
        cases=cases,
        rounds=args.rounds,
        threads=threads,
        checkpoint=args.checkpoint,
        measure_memory=not args.no_memory,
    )
    print(format_results(results))
    for size in sizes:
        rows = [r for r in results if r.size == size and r.case.backend != "baseline"]
        exact = [r for r in rows if r.max_abs <= 1e-4]
        fast = [r for r in rows if r.max_abs <= 0.05 and r.mean_abs <= 0.005]
        if exact:
            best = max(exact, key=lambda r: r.fps)
            print(
                f"{size}: fastest exact (max-abs <= 1e-4): {best.case.name}: {best.fps:.2f} fps, {best.speedup:.2f}x"
            )
        if fast:
            best = max(fast, key=lambda r: r.fps)
            print(
                f"{size}: fastest within 0.05/0.005: {best.case.name}: {best.fps:.2f} fps, {best.speedup:.2f}x"
            )
    return 0


def _stream(args: argparse.Namespace) -> int:
    from pirender.bench.streaming_memory import streaming_memory
    from pirender.errors import InputError

    if args.stream < 1:
        raise InputError("--stream must be >= 1")
    kwargs = {"device": args.device, "threads": args.threads}
    report = streaming_memory(render_frames=args.stream, engine_kwargs=kwargs)
    print(
        f"1000-frame motion, batch {report.batch}, {report.rendered_frames} frames rendered and encoded in {report.seconds:.0f} s: "
        f"peak RSS {report.peak_rss_gb:.2f} GB, growth {report.growth_mb_per_100_frames():.1f} MiB/100 frames"
    )
    return 0
