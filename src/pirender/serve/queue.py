"""The server's jobs: a bounded queue, worker processes that keep their models loaded and run one job
at a time each, progress, cancellation, a time limit, and results kept for a while.

Each worker slot is a thread of the server process that owns one spawned worker process: it hands
the process a job, listens to its progress and result over a pipe, and kills and replaces it when
the job is cancelled or runs past the time limit. Nothing runs in the web server's event loop.
"""

from __future__ import annotations

import multiprocessing
import shutil
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pirender.jobs.run import JobResult
from pirender.jobs.spec import Job

STATES = ("queued", "running", "done", "failed", "cancelled")


class QueueFull(Exception):
    """No room for another waiting job (the server answers 429)."""


@dataclass
class JobRecord:
    """One job of the server, as GET /jobs/{id} shows it."""

    id: str
    folder: Path
    job: Job | None = None
    status: str = "queued"
    progress: float = 0.0
    stage: str = ""
    error: str | None = None
    outputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel: bool = False

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id, "status": self.status, "progress": round(self.progress, 3), "stage": self.stage,
            "error": self.error, "outputs": self.outputs, "notes": self.notes, "created": self.created,
            "started": self.started, "finished": self.finished,
        }  # fmt: skip


class JobQueue:
    """Jobs waiting (at most `capacity`), running (one per worker) and finished (kept `keep_s`)."""

    def __init__(self, data_dir: Path, *, workers: int, capacity: int, timeout_s: float, keep_s: float,
                 threads: int) -> None:  # fmt: skip
        self.data_dir, self.capacity, self.timeout_s, self.keep_s = data_dir, capacity, timeout_s, keep_s
        self.threads = threads
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._waiting: deque[str] = deque()
        self._records: dict[str, JobRecord] = {}
        self._stop = threading.Event()
        self._slots = [threading.Thread(target=self._slot, name=f"pirender-worker-{i}", daemon=True)
                       for i in range(workers)]  # fmt: skip
        self._janitor = threading.Thread(target=self._sweep, name="pirender-janitor", daemon=True)

    def start(self) -> None:
        for thread in [*self._slots, self._janitor]:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        for thread in self._slots:
            thread.join(timeout=10)

    def new_folder(self) -> tuple[str, Path]:
        """A new job id and its folder (inputs/ and out/ made), before the job is admitted."""
        job_id = uuid.uuid4().hex[:16]
        folder = self.data_dir / job_id
        (folder / "inputs").mkdir(parents=True)
        (folder / "out").mkdir()
        return job_id, folder

    def has_room(self) -> bool:
        with self._lock:
            return len(self._waiting) < self.capacity

    def submit(self, job_id: str, folder: Path, job: Job) -> JobRecord:
        """Admit a job, or raise QueueFull (the caller removes its folder)."""
        with self._ready:
            if len(self._waiting) >= self.capacity:
                raise QueueFull(f"the queue is full ({self.capacity} jobs waiting); retry later")
            record = JobRecord(job_id, folder, job)
            self._records[job_id] = record
            self._waiting.append(job_id)
            self._ready.notify()
            return record

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._records.get(job_id)
            return None if record is None else record.view()

    def output(self, job_id: str, name: str | None) -> tuple[str, Path | None]:
        """-> (status, path of the named output, or of the first; None when there is none)."""
        with self._lock:
            record = self._records.get(job_id)
            if record is None:
                return "unknown", None
            if record.status != "done":
                return record.status, None
            wanted = name or (record.outputs[0] if record.outputs else "")
            if wanted not in record.outputs:
                return "no such output", None
            path = record.folder / "out" / wanted
            return ("done", path) if path.is_file() else ("no such output", None)

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        """Cancel a waiting or running job (a finished one is deleted with its files)."""
        with self._lock:
            record = self._records.get(job_id)
            if record is None:
                return None
            if record.status == "queued":
                self._waiting.remove(job_id)
                record.status, record.finished = "cancelled", time.time()
            elif record.status == "running":
                record.cancel = True  # its slot kills the worker and marks it
            else:
                del self._records[job_id]
                shutil.rmtree(record.folder, ignore_errors=True)
                return {**record.view(), "status": "deleted"}
            return record.view()

    def counts(self) -> dict[str, int]:
        with self._lock:
            counts = dict.fromkeys(STATES, 0)
            for record in self._records.values():
                counts[record.status] += 1
            return counts

    # --- the worker slots -------------------------------------------------------------------------

    def _next(self) -> JobRecord | None:
        with self._ready:
            while not self._waiting and not self._stop.is_set():
                self._ready.wait(timeout=0.5)
            if self._stop.is_set():
                return None
            record = self._records[self._waiting.popleft()]
            record.status, record.started = "running", time.time()
            return record

    def _slot(self) -> None:
        worker: _Worker | None = None
        try:
            while (record := self._next()) is not None:
                try:
                    worker = worker if worker is not None and worker.alive() else _Worker(self.threads)
                    outcome = worker.run(record, self.timeout_s, self._lock)
                except Exception as e:  # a worker that cannot start, a broken pipe: fail the job, go on
                    outcome = f"its worker failed ({type(e).__name__}: {e})"
                if outcome is not None:  # killed (cancelled, too long) or died
                    if worker is not None:
                        worker.kill()
                    worker = None
                    shutil.rmtree(record.folder / "out", ignore_errors=True)
                    (record.folder / "out").mkdir(exist_ok=True)
                with self._lock:
                    record.finished = time.time()
                    if outcome == "cancelled":
                        record.status = "cancelled"
                    elif outcome is not None:
                        record.status, record.error = "failed", outcome
        finally:
            if worker is not None:
                worker.kill()

    def _sweep(self) -> None:
        """Remove finished jobs (their records and folders) older than keep_s."""
        while not self._stop.wait(timeout=min(5.0, max(0.1, self.keep_s / 4))):
            now = time.time()
            with self._lock:
                old = [r for r in self._records.values()
                       if r.finished is not None and r.status != "running" and now - r.finished > self.keep_s]  # fmt: skip
                for record in old:
                    del self._records[record.id]
            for record in old:
                shutil.rmtree(record.folder, ignore_errors=True)


class _Worker:
    """A spawned process that runs jobs one at a time (models stay loaded between them)."""

    def __init__(self, threads: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, threads), daemon=True)
        self.process.start()
        child.close()

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def run(self, record: JobRecord, timeout_s: float, lock: threading.Lock) -> str | None:
        """Run the record's job; None when the worker finished it (the record says how), else why it
        must be killed: "cancelled", the time limit, or the worker's death."""
        self.conn.send(record.job)
        deadline = time.monotonic() + timeout_s
        while True:
            if record.cancel:
                return "cancelled"
            if time.monotonic() > deadline:
                return f"ran past the server's time limit of {timeout_s:g} s"
            try:
                ready = self.conn.poll(0.1)
                message = self.conn.recv() if ready else None
            except (EOFError, OSError):
                message = ("died", None)
            if message is None:
                if not self.process.is_alive():
                    return "its worker process died (out of memory?)"
                continue
            kind, value = message
            if kind == "died":
                return "its worker process died (out of memory?)"
            with lock:
                if kind == "progress":
                    record.progress, record.stage = value
                elif kind == "result":
                    result: JobResult = value
                    record.progress = 1.0 if result.status == "ok" else record.progress
                    record.status = "done" if result.status == "ok" else "failed"
                    record.error, record.notes = result.error, result.notes
                    record.outputs = [Path(name).name for name in result.outputs]
                    return None


def _worker_main(conn: Connection, threads: int) -> None:
    """The worker process: jobs in, progress and results out, until the pipe closes."""
    from pirender.jobs.run import init_worker, run_job
    from pirender.media.progress import set_progress_listener

    init_worker(threads)
    last = [0.0]

    def report(done: int, total: int, desc: str) -> None:
        now = time.monotonic()
        if done in (0, total) or now - last[0] > 0.25:
            last[0] = now
            conn.send(("progress", (done / max(total, 1), desc)))

    set_progress_listener(report)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        conn.send(("result", run_job(job)))
