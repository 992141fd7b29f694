"""`pirender evaluate`: PSNR/SSIM/L1 (+ LPIPS, AED/APD when available) on an LMDB test split."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COMMAND = "evaluate"
HELP = "held-out metrics of a renderer (copy-source, warp-only and full outputs) on an LMDB test split"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--renderer", required=True, type=Path, help="official .pt or pirender model directory"
    )
    parser.add_argument("--data", required=True, type=Path, help="LMDB directory (official layout)")
    parser.add_argument(
        "--cross-id", action="store_true", help="cross-identity reenactment instead of same-identity"
    )
    parser.add_argument("--split", default="test", choices=("train", "test"))
    parser.add_argument(
        "--frames-per-video", type=int, default=8, help="evenly spaced driving frames per video"
    )
    parser.add_argument(
        "--max-videos", type=int, default=0, help="evaluate only the first N videos (0 = all)"
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16"),
        help="render through the engine at this precision (what a fast path costs); default: the plain forward",
    )
    parser.add_argument("--lpips-vgg16", type=Path, help="torchvision vgg16 weights (vgg16-397923af.pth)")
    parser.add_argument("--lpips-heads", type=Path, help="lpips v0.1 linear heads (weights/v0.1/vgg.pth)")
    parser.add_argument(
        "--no-motion-metrics", action="store_true", help="skip AED/APD even if an extractor exists"
    )
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")


def run(args: argparse.Namespace) -> int:
    from pirender.errors import InputError
    from pirender.eval.evaluate import evaluate, format_report, load_extractor
    from pirender.models.loading import load_renderer

    renderer = load_renderer(args.renderer, device=args.device)
    lpips = None
    if (args.lpips_vgg16 is None) != (args.lpips_heads is None):
        raise InputError("LPIPS needs both --lpips-vgg16 and --lpips-heads")
    if args.lpips_vgg16 is not None:
        from pirender.eval.lpips import LPIPS

        lpips = LPIPS.from_files(args.lpips_vgg16, args.lpips_heads).to(args.device)
    extractor, reason = (None, "disabled") if args.no_motion_metrics else load_extractor()
    report = evaluate(
        renderer,
        str(args.data),
        cross_id=args.cross_id,
        split=args.split,
        frames_per_video=args.frames_per_video,
        max_videos=args.max_videos,
        batch_size=args.batch_size,
        lpips=lpips,
        extractor=extractor,
        device=args.device,
        precision=args.precision,
    )
    if extractor is None:
        report["skipped"] = [
            s if not s.startswith("AED/APD") else f"AED/APD: {reason}" for s in report["skipped"]
        ]
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
