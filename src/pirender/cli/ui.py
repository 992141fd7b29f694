"""`pirender ui`: the web app (edit, reenact, speak) on http://127.0.0.1:7860, fully offline."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from pirender.cli import common
from pirender.errors import InputError

COMMAND = "ui"
HELP = "web app: edit a portrait with sliders, reenact it from a video, make it speak (offline)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pirender.ui.launch import DEFAULT_HOST, DEFAULT_MAX_FILE_SIZE, DEFAULT_PORT

    parser.add_argument(
        "--motion-model",
        type=Path,
        metavar="CKPT",
        help="audio-to-motion model directory for Speak (default: the bundled one)",
    )
    server = parser.add_argument_group("server")
    server.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"interface to bind (default {DEFAULT_HOST}: this machine only; 0.0.0.0 exposes the app)",
    )
    server.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    server.add_argument(
        "--max-file-size",
        default=DEFAULT_MAX_FILE_SIZE,
        metavar="SIZE",
        help=f"largest accepted upload, e.g. 50mb or 1gb (default {DEFAULT_MAX_FILE_SIZE})",
    )
    common.add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from pirender.engine.options import RuntimeOptions
    from pirender.pipelines.models import resolve_motion_model_path

    if importlib.util.find_spec("gradio") is None:
        raise InputError("the web app needs gradio: pip install 'pirender[ui]'")
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be in 0..65535, got {args.port}")
    common.require_files(("renderer", args.renderer), ("motion model", args.motion_model))
    if args.motion_model is not None:
        resolve_motion_model_path(args.motion_model)
    runtime = common.runtime_kwargs(args)
    from pirender.ui.app import build_app
    from pirender.ui.handlers import AppModels
    from pirender.ui.launch import serve

    models = AppModels(
        renderer=args.renderer,
        motion_model=args.motion_model,
        extractor=runtime["extractor"],
        options=RuntimeOptions(
            device=args.device, precision=args.precision, backend=args.backend, batch_size=args.batch_size
        ),
        size=args.size,
    )
    models.edit_pipeline()  # load the renderer now: a bad --renderer fails here, in one line
    app = build_app(models)
    serve(app, host=args.host, port=args.port, max_file_size=args.max_file_size, quiet=args.quiet)
    return 0
