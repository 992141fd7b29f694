"""Run jobs on a pool of local worker processes (spawned, so each has its own torch and models)."""

from __future__ import annotations

import multiprocessing
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from pirender.jobs.run import JobResult, init_worker, run_job
from pirender.jobs.spec import Job


def remove_partial(job: Job) -> None:
    """Delete what a killed job left half-written: its outputs' hidden `.NAME.*.part.SUFFIX` files
    (media.atomic's temporaries, which a killed process cannot remove itself)."""
    stem = job.output.stem
    for part in job.output.parent.glob(f".{stem}*.part*"):
        part.unlink(missing_ok=True)


def run_local(
    jobs: Sequence[Job],
    on_result: Callable[[JobResult], None],
    *,
    workers: int,
    threads: int,
    retries: int = 2,
) -> None:
    """Run `jobs` on `workers` processes of `threads` torch threads each; `on_result` gets each
    job's result as it ends (in the order they end). A job whose worker dies (killed, out of
    memory) is run again on a new pool, up to `retries` more times, then recorded as failed; the pool
    holds no more jobs than it runs, so a death is charged to the jobs that were running."""
    context = multiprocessing.get_context("spawn")
    attempts: Counter[str] = Counter()
    todo = deque(jobs)
    while todo:
        pool = ProcessPoolExecutor(
            max_workers=max(1, min(workers, len(todo))), mp_context=context,
            initializer=init_worker, initargs=(threads,),
        )  # fmt: skip
        running: dict[Future[JobResult], Job] = {}
        try:
            broken = False
            while (todo or running) and not broken:
                while todo and len(running) < workers:  # no more in the pool than it runs: a death
                    job = todo.popleft()  # is charged to the jobs that were running, not the queue
                    running[pool.submit(run_job, job)] = job
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:  # a worker died
                        broken = True
                        _again(job, attempts, retries, todo, on_result)
                        continue
                    on_result(result)
            for job in running.values():  # the pool broke under these too
                _again(job, attempts, retries, todo, on_result)
            running.clear()
        finally:
            _stop(pool, running)


def _again(
    job: Job, attempts: Counter[str], retries: int, todo: deque[Job], on_result: Callable[[JobResult], None]
) -> None:
    """A job whose worker died: its half-written output removed, run again or recorded as failed."""
    remove_partial(job)
    attempts[job.name] += 1
    if attempts[job.name] <= retries:
        todo.appendleft(job)
    else:
        on_result(
            JobResult(job.name, job.digest, "failed", error=f"its worker died {attempts[job.name]} times")
        )


def _stop(pool: ProcessPoolExecutor, running: dict[Future[JobResult], Job]) -> None:
    """Shut the pool down now: an interrupted batch (Ctrl-C, SIGTERM, a full disk) kills the jobs
    still running, removes their half-written outputs and runs nothing more."""
    for future in running:
        future.cancel()
    processes = list(getattr(pool, "_processes", {}).values()) if running else []
    for process in processes:
        process.kill()
    pool.shutdown(wait=True, cancel_futures=True)
    for job in running.values():
        remove_partial(job)
