"""`pirender batch` (the command of this package; cli/main.py finds it): run a manifest of reenact / edit / speak / dub jobs, models loaded once per worker."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pirender.cli import common
from pirender.errors import InputError

if TYPE_CHECKING:
    from pirender.jobs.run import JobResult

COMMAND = "batch"
HELP = "run many reenact/edit/speak/dub jobs from a JSONL or CSV manifest, locally or on Ray"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", type=Path, help="JSONL (one job object a line) or CSV manifest")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUTDIR",
        help="folder the jobs' outputs go into (their 'output' is relative to it); results.jsonl is kept here",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, help="local worker processes (default: one per core; ignored with --ray)"
    )
    parser.add_argument(
        "--ray", nargs="?", const="local", metavar="ADDRESS",
        help="run the jobs as Ray tasks: on a Ray started for the run, or on the cluster at ADDRESS "
        "(ray://host:10001 or auto); needs `pip install ray`",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, help="torch threads per job (default: the cores shared among the workers)"
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="times a job is run again after its worker dies (default 2)"
    )
    parser.add_argument(
        "--rerun", action="store_true", help="run every job, also those whose output is already there"
    )
    parser.add_argument("--check", action="store_true", help="check the manifest and exit (nothing run)")
    common.add_progress_arguments(parser, quiet="no progress bar and no summary line")


def run(args: argparse.Namespace) -> int:
    from pirender.jobs.manifest import ManifestError, read_manifest
    from pirender.jobs.results import Results
    from pirender.jobs.run import usable_cores
    from pirender.media.output_check import check_output_dir

    for name in ("workers", "threads"):
        common.check_positive(getattr(args, name), f"--{name}")
    if args.retries < 0:
        raise InputError(f"--retries must be >= 0, got {args.retries}")
    check_output_dir(args.output, inputs=(args.manifest,))
    try:
        jobs = read_manifest(args.manifest, args.output)
    except ManifestError as e:  # one line per problem, then the error line
        for problem in e.problems:
            print(f"pirender batch: {args.manifest}: {problem}", file=sys.stderr)
        raise InputError(f"{args.manifest}: {len(e.problems)} problem(s) above; nothing run") from None
    if args.check:
        if not args.quiet:
            print(f"{args.manifest}: {len(jobs)} job(s), no problems")
        return 0
    results = Results(args.output)
    args.output.mkdir(parents=True, exist_ok=True)
    records = results.records()
    todo = [job for job in jobs if args.rerun or not results.is_complete(job, records)]
    cores = usable_cores()
    workers = args.workers or cores
    threads = args.threads or max(1, cores // min(workers, max(1, len(todo))))
    for job in todo:
        job.output.parent.mkdir(parents=True, exist_ok=True)
    counts = {"ok": 0, "failed": 0, "skipped": len(jobs) - len(todo)}
    bar = _bar(len(todo), enabled=common.show_progress(args))

    said: set[str] = set()

    def say(line: str) -> None:  # above the bar, if there is one
        print(line, file=sys.stderr) if bar is None else bar.write(line, file=sys.stderr)

    def record(result: JobResult) -> None:
        results.append(result)
        counts[result.status] += 1
        for note in result.notes:  # each distinct note once for the whole batch
            if note not in said and not args.quiet:
                said.add(note)
                say(note)
        if result.status == "failed":
            say(f"pirender batch: job {result.name} failed: {result.error}")
        if bar is not None:
            bar.update(1)

    try:
        if args.ray is not None:
            from pirender.jobs.ray_tasks import run_ray

            run_ray(todo, record, address=args.ray, threads=threads, retries=args.retries)
        else:
            from pirender.jobs.local import run_local

            run_local(todo, record, workers=workers, threads=threads, retries=args.retries)
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        print(
            f"pirender batch: {counts['ok']} done, {counts['skipped']} skipped (output there), "
            f"{counts['failed']} failed; results in {results.path}",
            file=sys.stderr,
        )
    return 1 if counts["failed"] else 0


def _bar(total: int, *, enabled: bool) -> Any:  # a tqdm bar, or None
    from pirender.media.progress import watched

    if not enabled or total < 1 or not watched():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="job", desc="batch", dynamic_ncols=True)
