"""`pirender export-onnx CKPT OUT.onnx`: the renderer as an ONNX graph (dynamic batch, opset 17)."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = "export-onnx"
HELP = "export a renderer checkpoint to ONNX for onnxruntime (one image size, any batch size)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="official checkpoint (.pt) or pirender model directory")
    parser.add_argument("output", type=Path, help="the .onnx file to write")
    parser.add_argument("--size", type=int, default=256, help="image height and width (default 256)")
    parser.add_argument(
        "--coeffs",
        action="store_true",
        help="take driving_coeffs (B, 73, 27) instead of descriptor (B, D, 1), mapping net included",
    )
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, >= 16 for GridSample (default 17)")
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime vs torch check")


def run(args: argparse.Namespace) -> int:
    from pirender.engine.onnx import export_onnx, require_onnx, verify_onnx
    from pirender.errors import InputError
    from pirender.media.atomic import atomic_path
    from pirender.models.loading import load_renderer

    require_onnx()
    if args.output.suffix != ".onnx":
        raise InputError(f"{args.output}: the output file name must end in .onnx")
    from pirender.media.output_check import check_output_path

    check_output_path(args.output, (".onnx",), inputs=(args.checkpoint,))
    if args.opset < 16:
        raise InputError(f"--opset {args.opset} has no GridSample; use 16 or later")
    renderer = load_renderer(args.checkpoint)
    m = renderer.config.size_multiple
    if args.size <= 0 or args.size % m:
        raise InputError(f"--size must be a positive multiple of {m}, got {args.size}")
    with atomic_path(args.output) as tmp:
        export_onnx(renderer, tmp, image_size=args.size, coeffs_input=args.coeffs, opset=args.opset)
        if not args.no_verify:
            max_abs = verify_onnx(renderer, tmp, coeffs_input=args.coeffs)
            print(f"onnxruntime vs torch: max-abs {max_abs:.1e} on 2 frames")
    motion = (
        "driving_coeffs (B, 73, 27)" if args.coeffs else f"descriptor (B, {renderer.config.descriptor_nc}, 1)"
    )
    print(
        f"wrote {args.output}: inputs source_image (B, 3, {args.size}, {args.size}), {motion}; "
        "outputs image, warped_image, flow; opset "
        f"{args.opset}"
    )
    return 0
