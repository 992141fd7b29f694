"""Run jobs as Ray tasks, on a Ray started for the run or on an existing cluster.

Nothing is assumed shared between the machines but the installed pirender: each input file and model
folder goes into Ray's object store once (a driving video used by six jobs is put once), a worker
fetches it once per node into its cache (by content hash, so a model folder keeps one path and the worker's
loaded-model cache holds across jobs), writes the job's outputs into a temporary folder and sends them
back, and this process writes them into the output folder atomically. A task whose worker dies (killed,
out of memory, a node lost) is retried by Ray elsewhere, up to `retries` times.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pirender.errors import InputError, one_line
from pirender.jobs.run import JobResult, init_worker, run_job
from pirender.jobs.spec import Job

Content = bytes | dict[str, bytes]  # a file's bytes, or a folder's {relative path: bytes}


def run_ray(
    jobs: Sequence[Job],
    on_result: Callable[[JobResult], None],
    *,
    address: str = "local",
    threads: int = 1,
    retries: int = 2,
) -> None:
    """Run `jobs` as Ray tasks of `threads` CPUs each; `on_result` gets each result as it ends.

    Args:
        address: "local" starts a Ray for the run (stopped after it); otherwise the cluster address
            given to `ray.init` ("auto", "ray://head:10001"). A Ray already initialised in this
            process is used as it is.
    """
    try:
        import ray
    except ImportError:
        raise InputError('--ray needs Ray: pip install "pirender[ray]"') from None
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": False,
        }
        try:
            ray.init(**options) if address == "local" else ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise InputError(
                f"--ray {address}: cannot start or reach Ray ({one_line(str(e))[:200]})"
            ) from None
    try:
        task = ray.remote(_run_task).options(num_cpus=threads, max_retries=retries, retry_exceptions=False)
        puts: dict[Path, Any] = {}
        running = {}
        for job in jobs:
            shipped = {}
            for path in job.inputs:
                if path not in puts:
                    digest, name, content = _pack(path)
                    puts[path] = (digest, name, ray.put(content))
                shipped[str(path)] = puts[path]
            running[task.remote(job, shipped, threads)] = job
        while running:
            (done,), _ = ray.wait(list(running), num_returns=1)
            job = running.pop(done)
            try:
                result, files = ray.get(done)
            except ray.exceptions.RayError as e:  # its worker died more than `retries` times
                cause = getattr(e, "cause", None) or e
                why = f"Ray: {type(cause).__name__}: {one_line(str(cause).splitlines()[0] if str(cause) else '')}"
                on_result(JobResult(job.name, job.digest, "failed", error=why[:300]))
                continue
            _write_outputs(job, files)
            on_result(result)
    finally:
        if started:
            ray.shutdown()


def _run_task(
    job: Job, shipped: dict[str, tuple[str, str, Any]], threads: int
) -> tuple[JobResult, dict[str, bytes]]:
    """On a Ray worker: unpack the inputs, run the job into a temporary folder, return its files."""
    _init_once(threads)
    paths = {Path(original): _unpack(*entry) for original, entry in shipped.items()}
    with tempfile.TemporaryDirectory(prefix="pirender-job-") as tmp:
        result = run_job(job.with_paths(paths, Path(tmp) / job.output.name))
        folder = Path(job.name).parent
        files = {name: (Path(tmp) / Path(name).relative_to(folder)).read_bytes() for name in result.outputs}
    return result, files


@functools.cache
def _init_once(threads: int) -> None:
    init_worker(threads)


def _pack(path: Path) -> tuple[str, str, Content]:
    """A file's bytes, or a folder's files by relative path, with their content hash."""
    digest = hashlib.sha256(path.name.encode() + b"\0")  # the name too: the commands read suffixes
    if path.is_dir():
        content: bytes | dict[str, bytes] = {}
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            relative = file.relative_to(path).as_posix()
            data = file.read_bytes()
            content[relative] = data
            digest.update(relative.encode() + b"\0" + hashlib.sha256(data).digest())
    else:
        content = path.read_bytes()
        digest.update(content)
    return digest.hexdigest()[:24], path.name, content


def _unpack(digest: str, name: str, ref: Any) -> Path:
    """The node-local copy of a shipped input: fetched from the object store and written once per
    node (later jobs find it by its hash and fetch nothing); the same path every time."""
    import ray

    target = _cache() / digest / name
    if target.exists():
        return target
    content: Content = ray.get(ref)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=target.parent.parent))
    try:
        if isinstance(content, dict):
            (staging / name).mkdir()  # an empty folder is still a folder
            for relative, data in content.items():
                (staging / name / relative).parent.mkdir(parents=True, exist_ok=True)
                (staging / name / relative).write_bytes(data)
        else:
            (staging / name).write_bytes(content)
        try:
            os.rename(staging, target.parent)  # atomic: another worker may be doing the same
        except OSError:
            if not target.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _cache() -> Path:
    """This user's cache of shipped inputs on this node (mode 0700, refused if someone else owns it)."""
    folder = Path(tempfile.gettempdir()) / f"pirender-ray-inputs-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        raise InputError(f"{folder} is not this user's private folder; remove it")
    return folder


def _write_outputs(job: Job, files: dict[str, bytes]) -> None:
    from pirender.media.atomic import atomic_path

    outdir = job.output.parents[len(Path(job.name).parts) - 1]
    for name, data in files.items():
        path = outdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as part:
            part.write_bytes(data)
