"""Renderer throughput and fidelity of every engine path, side by side with the official way of running it.

The baseline is a plain per-frame eager float32 forward that also computes the editing res-blocks'
discarded conv1/norm1 branch, as the official inference does. In one process and for each image
size, every case is timed round by round, interleaved with the baseline (these machines are shared
and noisy: only ratios measured side by side mean much), and compared with the float32 reference
output (`PIRenderer.forward`, batch 1). Peak memory is measured in a fresh child process per case.

Weights are the spec's deterministic rule weights (bench/reference_weights.py) unless a checkpoint is
given, and the inputs follow the spec's input rule, so the fidelity figures are realistic.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pirender.bench.reference_weights import rule_renderer
from pirender.engine.core import CPU_TECHNIQUES, RenderEngine, bf16_supported
from pirender.engine.graph import Techniques
from pirender.models.inputs import reference_inputs
from pirender.models.renderer import PIRenderer
from pirender.motion.coeffs import window_centres


@dataclass(frozen=True)
class Case:
    """One way of rendering: the official-style baseline, or an engine configuration."""

    name: str
    backend: str = "torch"  # "baseline" for the official-style forward
    precision: str = "fp32"
    batch: int = 1
    reference_techniques: bool = False  # the engine's plain path (bit-exact to PIRenderer.forward)
    device: str = "cpu"
    threads: int | None = None  # None: the bench's thread count
    workers: int | None = None  # frames rendered concurrently (RenderEngine workers)
    techniques: Techniques | None = None  # None: the engine's defaults

    def engine(self, renderer: PIRenderer, onnx_path: str | None) -> RenderEngine:
        return RenderEngine(
            renderer,
            device=self.device,
            precision=self.precision,
            backend=self.backend,
            batch_size=self.batch,
            onnx_path=onnx_path,
            techniques=Techniques.reference() if self.reference_techniques else self.techniques,
            threads=self.threads,
            workers=self.workers,
        )


BASELINE = Case("official-style: eager fp32, per frame, dead branch", backend="baseline")


def default_cases(*, device: str = "cpu", include_emulated_bf16: bool = False) -> list[Case]:
    """The cases `pirender bench` runs on this machine."""
    if device == "cpu":
        n = torch.get_num_threads()
        before = CPU_TECHNIQUES.with_(weight_cache=False, tap_conv=False)
        cases = [
            BASELINE,
            Case("engine plain fp32 (bit-exact), batch 1", reference_techniques=True),
            Case("engine fp32 exact, batch 1, no weight cache/tap conv", techniques=before),
            Case("engine fp32 exact, batch 1"),
            Case("engine fp32 exact, batch 4", batch=4, workers=1),
            Case("onnxruntime fp32, batch 1", backend="onnx"),
        ]
        if n > 1:  # frame parallelism; and on a loaded shared machine 1 thread can beat 2 by far
            cases.append(Case(f"engine fp32 exact, {n} frame workers", batch=n, workers=n))
            cases.append(Case("engine fp32 exact, batch 1, 1 thread", threads=1))
        if include_emulated_bf16 or bf16_supported(torch.device("cpu")):
            cases.append(Case("engine bf16, batch 1", precision="bf16"))
            if n > 1:
                cases.append(Case(f"engine bf16, {n} frame workers", precision="bf16", batch=n, workers=n))
        return cases
    cases = [Case(BASELINE.name, backend="baseline", device=device)]
    for precision in ("fp32", "fp16", "bf16"):
        if precision == "bf16" and not bf16_supported(torch.device(device)):
            continue
        cases += [
            Case(f"engine {precision}, batch {b}", precision=precision, batch=b, device=device)
            for b in (1, 8)
        ]
    return cases


@dataclass
class Result:
    case: Case
    size: int
    s_per_frame: float = math.nan  # median wall time per frame
    cpu_s_per_frame: float = math.nan  # median process CPU time per frame (less sensitive to other load)
    speedup: float = math.nan  # baseline median / this median, same size, same run
    max_abs: float = math.nan  # vs the float32 reference image
    mean_abs: float = math.nan
    psnr_db: float = math.nan  # PSNR of this image against the float32 reference (inf when identical)
    peak_memory_gb: float = math.nan  # peak RSS of a fresh process (CPU) or peak CUDA memory
    times: list[float] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return 1 / self.s_per_frame


def _psnr(image: torch.Tensor, reference: torch.Tensor) -> float:
    mse = ((image - reference) ** 2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(4.0 / mse)  # images span [-1, 1]: peak 2


def _runner(
    case: Case, renderer: PIRenderer, source: torch.Tensor, coeffs: torch.Tensor, onnx_path: str | None
) -> Callable[[], torch.Tensor]:
    """A closure rendering `case.batch` frames and returning the images (B, 3, H, W) float32 on CPU."""
    device = torch.device(case.device)
    if case.backend == "baseline":
        src, drv = source[:1].to(device), coeffs.to(device)

        def baseline() -> torch.Tensor:
            renderer.set_compute_dead_branch(True)
            try:
                with torch.no_grad():  # the official inference: no_grad, eager, one frame per call
                    return torch.cat(
                        [renderer(src, drv[i : i + 1], source_coeffs=window_centres(drv[i : i + 1])).image
                         for i in range(case.batch)]
                    ).cpu()  # fmt: skip
            finally:
                renderer.set_compute_dead_branch(False)

        return baseline
    engine = case.engine(renderer, onnx_path)
    descriptors = engine.encode_motion(coeffs, window_centres(coeffs))  # (own: any, for timing)

    def run() -> torch.Tensor:
        # A fresh render_frames-equivalent call per round: the per-video source cache is included.
        outs = list(engine._batches(source[:1], descriptors, warp_only=False))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return torch.cat([o[0].float().cpu() for o in outs])

    return run


def _reference_images(renderer: PIRenderer, source: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat(
            [renderer(source[:1], coeffs[i : i + 1], source_coeffs=window_centres(coeffs[i : i + 1])).image
             for i in range(coeffs.shape[0])]
        )  # fmt: skip


def _memory_child(
    config_dict: dict,
    checkpoint: str | None,
    case: Case,
    size: int,
    threads: int,
    onnx_path: str | None,
    queue: mp.Queue,
) -> None:
    torch.set_num_threads(threads)
    renderer = _load(config_dict, checkpoint)
    source, coeffs = reference_inputs(case.batch, size)
    run = _runner(case, renderer, source, coeffs, onnx_path)
    run()
    run()
    queue.put(process_peak_rss_gb())


def process_peak_rss_gb() -> float:
    """This process's peak RSS in GiB. Linux: VmHWM, because ru_maxrss carries the parent's peak
    across fork+exec (a spawned child would report the bench parent's 2+ GB)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2  # kB -> GiB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB (macOS: bytes)


def _load(config_dict: dict | None, checkpoint: str | None) -> PIRenderer:
    from pirender.config import RendererConfig
    from pirender.models.loading import load_renderer

    if checkpoint is not None:
        return load_renderer(checkpoint)
    return rule_renderer(RendererConfig.from_dict(config_dict) if config_dict else None)


def peak_rss_gb(
    renderer: PIRenderer, checkpoint: str | None, case: Case, size: int, threads: int, onnx_path: str | None
) -> float:
    """Peak RSS of a fresh process that builds the renderer and renders two batches of `case`."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    args = (renderer.config.to_dict(), checkpoint, case, size, threads, onnx_path, queue)
    proc = ctx.Process(target=_memory_child, args=args)
    proc.start()
    try:
        return queue.get(timeout=1800)
    finally:
        proc.join()


def bench_renderer(
    *,
    sizes: tuple[int, ...] = (256, 128),
    cases: list[Case] | None = None,
    rounds: int = 3,
    threads: int | None = None,
    checkpoint: str | None = None,
    measure_memory: bool = True,
    log: Callable[[str], None] = print,
) -> list[Result]:
    """Time every case against the baseline, size by size; returns one Result per (size, case)."""
    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    renderer = _load(None, checkpoint)
    cases = cases or default_cases()
    if cases[0].backend != "baseline":
        raise ValueError("the first case must be the baseline")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pirender-bench-") as tmp:
        for size in sizes:
            onnx_path = _export_if_needed(renderer, cases, size, Path(tmp), log)
            max_batch = max(c.batch for c in cases)
            source, coeffs = reference_inputs(max_batch, size)
            reference = _reference_images(renderer, source, coeffs)
            runners = [_runner(c, renderer, source, coeffs[: c.batch], onnx_path) for c in cases]
            rows = [Result(c, size) for c in cases]
            for row, run in zip(rows, runners, strict=True):  # warm-up, and the fidelity figures
                image = run()
                ref = reference[: row.case.batch]
                row.max_abs = (image - ref).abs().max().item()
                row.mean_abs = (image - ref).abs().mean().item()
                row.psnr_db = _psnr(image, ref)
            cpu: list[list[float]] = [[] for _ in cases]
            for r in range(rounds):
                for i, (row, run) in enumerate(zip(rows, runners, strict=True)):
                    wall0, cpu0 = time.perf_counter(), time.process_time()
                    run()
                    row.times.append((time.perf_counter() - wall0) / row.case.batch)
                    cpu[i].append((time.process_time() - cpu0) / row.case.batch)
                log(f"{size}x{size}: round {r + 1}/{rounds} done")
            for row, c in zip(rows, cpu, strict=True):
                row.s_per_frame = statistics.median(row.times)
                row.cpu_s_per_frame = statistics.median(c)
                row.speedup = rows[0].s_per_frame / row.s_per_frame
                if measure_memory:
                    row.peak_memory_gb = _peak_memory(
                        renderer, checkpoint, row.case, size, threads, onnx_path
                    )
            results += rows
    return results


def _export_if_needed(
    renderer: PIRenderer, cases: list[Case], size: int, tmp: Path, log: Callable[[str], None]
) -> str | None:
    if not any(c.backend == "onnx" for c in cases):
        return None
    from pirender.engine.onnx import export_onnx

    start = time.perf_counter()
    path = export_onnx(renderer, tmp / f"renderer_{size}.onnx", image_size=size)
    log(f"{size}x{size}: exported ONNX in {time.perf_counter() - start:.0f} s")
    return str(path)


def _peak_memory(
    renderer: PIRenderer, checkpoint: str | None, case: Case, size: int, threads: int, onnx_path: str | None
) -> float:
    if case.device == "cpu":
        return peak_rss_gb(renderer, checkpoint, case, size, threads, onnx_path)
    device = torch.device(case.device)
    torch.cuda.reset_peak_memory_stats(device)
    source, coeffs = reference_inputs(case.batch, size)
    _runner(case, renderer, source, coeffs, onnx_path)()
    return torch.cuda.max_memory_allocated(device) / 1024**3


def format_results(results: list[Result]) -> str:
    """A table: one row per (size, case)."""
    head = (
        f"{'size':>4s} {'case':52s} {'fps':>6s} {'s/frame':>8s} {'cpu s/f':>8s} {'vs base':>8s} "
        f"{'max-abs':>8s} {'mean-abs':>9s} {'PSNR dB':>8s} {'peak mem':>9s}"
    )
    lines = [head]
    for r in results:
        mem = f"{r.peak_memory_gb:.2f} GB" if not math.isnan(r.peak_memory_gb) else "-"
        psnr = "inf" if math.isinf(r.psnr_db) else f"{r.psnr_db:.1f}"
        lines.append(
            f"{r.size:4d} {r.case.name:52s} {r.fps:6.2f} {r.s_per_frame:8.3f} {r.cpu_s_per_frame:8.3f} "
            f"{r.speedup:7.2f}x {r.max_abs:8.1e} {r.mean_abs:9.1e} {psnr:>8s} {mem:>9s}"
        )
    return "\n".join(lines)
