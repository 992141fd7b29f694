"""Run one job in this process, as `pirender COMMAND ...` would, and say what happened in a
JobResult instead of printing it. Models stay loaded in the process between jobs
(pipelines.models caches them), so a worker loads each model once, not once per job."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pirender.jobs.spec import Job, command_options


@dataclass
class JobResult:
    """What one job did.

    Attributes:
        name: the job's id (its output, relative to the output folder).
        digest: the job's digest (a changed job is a new job).
        status: "ok" or "failed".
        outputs: the files it wrote, relative to the output folder.
        error: the one-line error of a failed job.
        seconds: wall time of the job.
        notes: what the command said on stderr and its warnings, one line each.
    """

    name: str
    digest: str
    status: str
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_job(job: Job) -> JobResult:
    """Run `job` here and now. Never raises for the job's own failure (bad input, an internal
    error): that is a "failed" result with the one line the CLI would print."""
    from pirender.cli.common import collect_outputs
    from pirender.cli.main import describe_error

    start = time.monotonic()
    notes: list[str] = []
    try:
        parser, _ = command_options(job.command)  # built once per process, as parse_job's
        args = parser.parse_args([*job.argv, "--quiet", "--no-progress"])
        module = importlib.import_module(args._module)
        with (
            warnings.catch_warnings(record=True) as caught,
            collect_outputs() as written,
            contextlib.redirect_stderr(io.StringIO()) as said,  # notes: into the result, not interleaved
        ):
            warnings.simplefilter("always")
            if getattr(args, "strict", False):
                from pirender.media.video import TruncatedVideoWarning

                warnings.simplefilter("error", TruncatedVideoWarning)
            status = int(module.run(args) or 0)
        lines = [line for line in said.getvalue().splitlines() if line.strip()]
        lines += [
            f"pirender {job.command}: note: {w.message}"
            for w in caught
            if issubclass(w.category, UserWarning)
        ]
        notes = list(dict.fromkeys(lines))
        if status != 0:
            raise RuntimeError(f"the command exited with status {status}")
    except Exception as e:
        _, message = describe_error(job.command, e)
        return JobResult(job.name, job.digest, "failed", error=message, seconds=time.monotonic() - start,
                         notes=notes)  # fmt: skip
    folder = Path(job.name).parent
    outputs = [(folder / Path(p).relative_to(job.output.parent)).as_posix() for p in written]
    return JobResult(job.name, job.digest, "ok", outputs, seconds=time.monotonic() - start, notes=notes)


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def init_worker(threads: int) -> None:
    """A worker process's start: `threads` torch threads (the batch splits the cores among its
    workers, and the same count everywhere gives the same bytes)."""
    import torch

    torch.set_num_threads(max(1, threads))
