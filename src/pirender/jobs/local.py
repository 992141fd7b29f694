"""Run jobs on a pool of local worker processes (spawned, so each has its own torch and models)."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
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
    memory) is run again on a new pool, up to `retries` more times, then recorded as failed."""
    context = multiprocessing.get_context("spawn")
    attempts: Counter[str] = Counter()
    pending = list(jobs)
    while pending:
        with ProcessPoolExecutor(
            max_workers=max(1, min(workers, len(pending))), mp_context=context,
            initializer=init_worker, initargs=(threads,),
        ) as pool:  # fmt: skip
            running = {pool.submit(run_job, job): job for job in pending}
            pending = []
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:  # a worker died: every job still in the pool is lost
                        remove_partial(job)
                        attempts[job.name] += 1
                        if attempts[job.name] <= retries:
                            pending.append(job)
                        else:
                            why = f"its worker died {attempts[job.name]} times"
                            on_result(JobResult(job.name, job.digest, "failed", error=why))
                        continue
                    on_result(result)
