"""The HTTP API of `pirender serve` (FastAPI; OpenAPI docs at /docs).

    POST   /jobs              a job: JSON (server-side paths inside the root), or multipart/form-data
                              with a `job` field (the JSON) and files named by the options they fill
    GET    /jobs/{id}         status, progress of the current stage, error, outputs
    GET    /jobs/{id}/result  the output file (`?name=` picks one of several)
    DELETE /jobs/{id}         cancel a waiting or running job; delete a finished one and its files
    GET    /health            counts of jobs by state

A job is what a batch manifest line is (pirender.jobs.spec), with `output` a bare file name (default
result.mp4, result.png for a photo edit). Every error is a 4xx with {"error": "<one line>"}.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pirender.errors import InputError, one_line
from pirender.jobs.spec import JOB_COMMANDS, input_options, parse_job
from pirender.media.image import is_image_path
from pirender.serve.queue import JobQueue, QueueFull

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ServeSettings:
    """What `pirender serve` is configured with.

    Attributes:
        host, port: where it listens (127.0.0.1 by default; any other address needs `api_key`).
        data_dir: where each job's folder (its uploads and outputs) lives.
        root: the folder server-side input paths must lie inside; None takes uploads only.
        api_key: required of every request (X-API-Key or `Authorization: Bearer`) when set.
        workers: worker processes, each running one job at a time.
        queue_size: jobs that may wait; one more is refused with 429.
        max_upload_mb: the largest request body accepted (413 beyond).
        job_timeout_s: a running job is stopped (failed) past this.
        keep_results_s: finished jobs and their files are removed after this.
        threads: torch threads per worker.
        defaults: options every job gets unless it gives its own (e.g. {"renderer": "/models/x"}).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("pirender-serve")
    root: Path | None = None
    api_key: str | None = None
    workers: int = 1
    queue_size: int = 16
    max_upload_mb: float = 200.0
    job_timeout_s: float = 1800.0
    keep_results_s: float = 3600.0
    threads: int = 1
    defaults: tuple[tuple[str, Any], ...] = ()


def is_loopback(host: str) -> bool:
    """Whether `host` (an address to bind) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve to anything
        return False


def create_app(settings: ServeSettings, queue: JobQueue | None = None) -> Any:
    """The FastAPI app; its job queue starts with the app and stops with it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    jobs = queue or JobQueue(
        settings.data_dir, workers=settings.workers, capacity=settings.queue_size,
        timeout_s=settings.job_timeout_s, keep_s=settings.keep_results_s, threads=settings.threads,
    )  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        yield
        jobs.stop()

    app = FastAPI(title="pirender", summary="Animate and edit portraits: reenact, edit, speak, dub.",
                  lifespan=lifespan)  # fmt: skip

    def error(status: int, message: str, **headers: str) -> JSONResponse:
        return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:  # 404 routes, 405
        return error(e.status_code, str(e.detail))

    @app.exception_handler(Exception)
    async def internal(request: Request, e: Exception) -> JSONResponse:
        return error(500, f"internal error: {type(e).__name__}: {one_line(e)}")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
            return error(403, f"cross-origin requests are refused (Origin {origin})")  # a web page's
        if settings.api_key is not None and request.url.path not in ("/docs", "/openapi.json"):
            given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
                "Bearer "
            )
            if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
                return error(401, "missing or wrong API key (send X-API-Key)")
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None:
                return error(411, "a job needs a Content-Length")
            if not length.isdigit() or int(length) > settings.max_upload_mb * 2**20:
                return error(
                    413, f"the request is larger than the server's {settings.max_upload_mb:g} MB limit"
                )
        return await call_next(request)

    @app.post("/jobs", status_code=202, summary="Submit a job")
    async def submit(request: Request) -> Any:
        if not jobs.has_room():
            return error(429, f"the queue is full ({settings.queue_size} jobs waiting); retry later",
                         **{"Retry-After": "5"})  # fmt: skip
        job_id, folder = jobs.new_folder()
        admitted = False
        try:
            raw, base = await _read_job(request, folder, settings)
            job = await run_in_threadpool(parse_job, raw, base=base, outdir=folder / "out")
            record = jobs.submit(job_id, folder, job)
            admitted = True
        except _HTTPError as e:
            return error(e.status, str(e))
        except StarletteHTTPException as e:  # a malformed multipart body
            return error(e.status_code, str(e.detail))
        except InputError as e:
            return error(422, str(e))
        except QueueFull as e:
            return error(429, str(e), **{"Retry-After": "5"})
        finally:
            if not admitted:  # a refused job leaves nothing behind
                shutil.rmtree(folder, ignore_errors=True)
        return JSONResponse(record.view(), status_code=202, headers={"Location": f"/jobs/{job_id}"})

    @app.get("/jobs/{job_id}", summary="A job's status and progress")
    def status(job_id: str) -> Any:
        view = jobs.get(job_id)
        return error(404, f"no job {job_id!r}") if view is None else view

    @app.get("/jobs/{job_id}/result", summary="A finished job's output file")
    def result(job_id: str, name: str | None = None) -> Any:
        state, path = jobs.output(job_id, name)
        if state == "unknown":
            return error(404, f"no job {job_id!r}")
        if state == "no such output":
            return error(404, f"job {job_id} has no output {name!r}")
        if path is None:
            return error(409, f"job {job_id} is {state}, not done")
        return FileResponse(path, filename=path.name)

    @app.delete("/jobs/{job_id}", summary="Cancel a job, or delete a finished one")
    def cancel(job_id: str) -> Any:
        view = jobs.cancel(job_id)
        return error(404, f"no job {job_id!r}") if view is None else view

    @app.get("/health", summary="Job counts by state")
    def health() -> Any:
        return {"ok": True, "jobs": jobs.counts(), "queue_size": settings.queue_size}

    return app


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _read_job(request: Request, folder: Path, settings: ServeSettings) -> tuple[dict[str, Any], Path]:
    """-> (the job, the folder its relative input paths start from). Uploads are saved into the job's
    inputs/ folder and their options point at them; server-side paths must lie inside the root."""
    kind = request.headers.get("content-type", "")
    uploads: dict[str, Path] = {}
    files: list[tuple[str, Any]] = []
    if kind.startswith("multipart/form-data"):
        form = await request.form(max_files=16, max_fields=64)
        text = form.get("job")
        if not isinstance(text, str):
            raise _HTTPError(400, "a multipart job needs a 'job' field holding the job's JSON")
        raw = _parse_json(text)
        for key, value in form.multi_items():
            if key == "job":
                continue
            if isinstance(value, str):
                raise _HTTPError(400, f"field {key!r}: put options in the 'job' JSON; other fields are files")
            files.append((key, value))
    elif kind.startswith("application/json"):
        raw = _parse_json((await request.body()).decode("utf-8", errors="replace"))
    else:
        raise _HTTPError(415, "send the job as application/json or multipart/form-data")
    command = raw.get("command")
    if command not in JOB_COMMANDS:
        raise _HTTPError(422, f"'command' must be one of {', '.join(JOB_COMMANDS)}; got {command!r}")
    paths = input_options(command)
    for key, _ in files:  # checked before anything is written: a field name is never a path
        if key.replace("-", "_") not in paths:
            listed = ", ".join(sorted(input_options(command, shown=True)))
            raise _HTTPError(422, f"{command} takes no file {key!r}; files: {listed}")
    for key, upload in files:
        option = key.replace("-", "_")
        uploads[option] = await _save_upload(upload, folder / "inputs" / option)
    _refuse_file_values(raw)
    root = settings.root.resolve() if settings.root is not None else None
    for key, value in raw.items():
        if key.replace("-", "_") in paths and value is not None:
            if root is None:
                raise _HTTPError(403, f"{key}: this server takes uploaded files only, not server paths")
            if "\0" in str(value):
                raise _HTTPError(400, f"{key}: a path with a NUL character")
            target = Path(os.path.realpath(root / str(value)))
            if not target.is_relative_to(root):
                raise _HTTPError(403, f"{key}: {value!r} is outside the server's root")
    for key, value in settings.defaults:
        raw.setdefault(key, value)
    for key in list(raw):  # an upload replaces a value given for the same option
        if key.replace("-", "_") in uploads:
            del raw[key]
    raw.update({key: str(path) for key, path in uploads.items()})
    output = raw.get("output")
    if output is None:
        source = str(raw.get("source", ""))
        photo = command == "edit" and is_image_path(source) and not raw.get("sweep")
        raw["output"] = "result.png" if photo else "result.mp4"
    elif not isinstance(output, str) or "/" in output or "\\" in output or output.startswith("."):
        raise _HTTPError(422, f"'output' is a bare file name such as result.mp4, got {output!r}")
    return raw, root or folder / "inputs"


def _refuse_file_values(raw: dict[str, Any]) -> None:
    """Presets are named on the server: a preset (or a preset sweep) given as a file path would read
    a server file that no root check covers."""
    for key in ("preset", "sweep"):
        values = raw.get(key)
        for value in values if isinstance(values, list) else [values]:
            text = str(value or "")
            if "/" in text or "\\" in text or text.lower().endswith((".json", ".npz")):
                raise _HTTPError(422, f"{key}: give a preset by name on this server, not a file ({text!r})")


def _parse_json(text: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise _HTTPError(400, f"the job is not JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not isinstance(raw, dict):
        raise _HTTPError(400, f"a job is a JSON object, got {type(raw).__name__}")
    return raw


async def _save_upload(upload: Any, folder: Path) -> Path:
    """Write an uploaded file into `folder` under a safe version of its name (its suffix kept: the
    commands tell photos from videos by it)."""
    name = _SAFE_NAME.sub("_", Path(upload.filename or "upload").name).lstrip(".") or "upload"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with open(path, "wb") as f:
        while chunk := await upload.read(1 << 20):
            f.write(chunk)
    await upload.close()
    return path
