"""`pirender serve` (the command of this package; cli/main.py finds it): an HTTP API for reenact / edit / speak / dub jobs, models kept loaded."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from pirender.cli import common
from pirender.errors import InputError

COMMAND = "serve"
HELP = "serve reenact/edit/speak/dub jobs over HTTP (FastAPI + uvicorn; docs at /docs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--api-key", help="key every request must send (X-API-Key); required off loopback "
        "(default: $PIRENDER_API_KEY)",
    )  # fmt: skip
    parser.add_argument(
        "--root", type=Path, help="folder whose files jobs may name by path (default: uploads only)"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="where job folders live (default: a new temporary folder)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes, one job each at a time (default 1)"
    )
    parser.add_argument(
        "--threads", type=int, help="torch threads per worker (default: the cores shared among them)"
    )
    parser.add_argument(
        "--queue-size", type=int, default=16, help="jobs that may wait (default 16; then 429)"
    )
    parser.add_argument(
        "--max-upload-mb", type=float, default=200.0, help="largest request body (default 200)"
    )
    parser.add_argument(
        "--job-timeout", type=float, default=1800.0, help="seconds a job may run (default 1800)"
    )
    parser.add_argument(
        "--keep-results", type=float, default=3600.0, help="seconds finished jobs are kept (default 3600)"
    )
    models = parser.add_argument_group("defaults for every job (a job may give its own)")
    models.add_argument("--renderer", type=Path, metavar="CKPT", help="renderer (default: the bundled one)")
    models.add_argument("--device", help="cpu, cuda[:N] or mps")
    models.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"))


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from pirender.jobs.run import usable_cores
    from pirender.serve.app import ServeSettings, create_app, is_loopback

    api_key = args.api_key or os.environ.get("PIRENDER_API_KEY") or None
    if not is_loopback(args.host) and api_key is None:
        raise InputError(
            f"--host {args.host} is reachable from other machines: give --api-key (or $PIRENDER_API_KEY)"
        )
    for name in ("workers", "queue_size", "max_upload_mb", "job_timeout", "keep_results", "threads"):
        common.check_positive(getattr(args, name), f"--{name.replace('_', '-')}")
    if args.root is not None and not args.root.is_dir():
        raise InputError(f"--root {args.root}: not a folder")
    common.require_files(("renderer", args.renderer))
    renderer = None if args.renderer is None else args.renderer.resolve()  # jobs run from other folders
    defaults = tuple((k, str(v)) for k, v in (("renderer", renderer), ("device", args.device),
                                              ("precision", args.precision)) if v is not None)  # fmt: skip
    cores = usable_cores()
    settings = ServeSettings(
        host=args.host, port=args.port, api_key=api_key, root=args.root,
        data_dir=args.data_dir or Path(tempfile.mkdtemp(prefix="pirender-serve-")),
        workers=args.workers, queue_size=args.queue_size, max_upload_mb=args.max_upload_mb,
        job_timeout_s=args.job_timeout, keep_results_s=args.keep_results,
        threads=args.threads or max(1, cores // args.workers), defaults=defaults,
    )  # fmt: skip
    print(f"pirender serve: http://{args.host}:{args.port} (API docs at /docs); jobs in {settings.data_dir}",
          file=sys.stderr)  # fmt: skip
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0
