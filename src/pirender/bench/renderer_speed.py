"""Renderer throughput on this machine: our forward vs the official way of running it.

The baseline is a plain per-frame eager float32 forward that also computes the editing res-blocks'
discarded conv1/norm1 branch, as the official code does. Timings are interleaved round by round in
one process (these machines are noisy; only ratios measured side by side mean much); peak memory
is measured in a fresh child process per configuration.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from pirender.config import RendererConfig
from pirender.models.renderer import PIRenderer


@dataclass(frozen=True)
class Case:
    name: str
    batch: int
    dead_branch: bool  # compute the discarded branch (official behaviour)
    inference_mode: bool


def _inputs(batch: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    coeffs = torch.randn(batch, 73, 27, generator=g) * 0.3
    coeffs[:, 70:] = torch.tensor([1.0, 128.0, 128.0])[:, None]
    return image, coeffs


def _runner(model: PIRenderer, case: Case, size: int) -> Callable[[], None]:
    image, coeffs = _inputs(case.batch, size)

    def run() -> None:
        model.set_compute_dead_branch(case.dead_branch)
        ctx = torch.inference_mode() if case.inference_mode else torch.no_grad()
        with ctx:
            model(image, coeffs)

    return run


def _peak_rss_child(config: RendererConfig, case: Case, size: int, threads: int, queue: mp.Queue) -> None:
    torch.set_num_threads(threads)
    model = PIRenderer(config).eval()
    run = _runner(model, case, size)
    run()
    run()
    queue.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2)  # KiB -> GiB


def peak_rss_gb(config: RendererConfig, case: Case, size: int, threads: int) -> float:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peak_rss_child, args=(config, case, size, threads, queue))
    proc.start()
    value = queue.get(timeout=600)
    proc.join()
    return value


def bench_renderer(
    *,
    config: RendererConfig | None = None,
    size: int = 256,
    batches: tuple[int, ...] = (1, 2, 4, 8),
    rounds: int = 3,
    threads: int | None = None,
    measure_memory: bool = True,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Frames/s (median over rounds) and peak RSS of each case; returns one row per case."""
    config = config or RendererConfig()
    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = PIRenderer(config).eval()
    cases = [Case("official-style eager, per frame, dead branch", 1, True, False)]
    cases += [Case(f"pirender fp32, batch {b}", b, False, True) for b in batches]
    runners = [_runner(model, c, size) for c in cases]
    for run in runners:  # warm-up
        run()
    times: list[list[float]] = [[] for _ in cases]
    for r in range(rounds):
        for i, (case, run) in enumerate(zip(cases, runners, strict=False)):
            start = time.perf_counter()
            run()
            times[i].append((time.perf_counter() - start) / case.batch)
        log(f"round {r + 1}/{rounds} done")
    base = statistics.median(times[0])
    rows = []
    for case, t in zip(cases, times, strict=False):
        per_frame = statistics.median(t)
        row = {
            "case": case.name,
            "batch": case.batch,
            "s_per_frame": per_frame,
            "fps": 1 / per_frame,
            "speedup": base / per_frame,
        }
        if measure_memory:
            row["peak_rss_gb"] = peak_rss_gb(config, case, size, threads)
        rows.append(row)
    return rows


def format_rows(rows: list[dict]) -> str:
    lines = [f"{'case':50s} {'fps':>7s} {'s/frame':>8s} {'vs base':>8s} {'peak RSS':>9s}"]
    for r in rows:
        mem = f"{r['peak_rss_gb']:.2f} GB" if "peak_rss_gb" in r else "-"
        lines.append(
            f"{r['case']:50s} {r['fps']:7.2f} {r['s_per_frame']:8.3f} {r['speedup']:7.2f}x {mem:>9s}"
        )
    return "\n".join(lines)
