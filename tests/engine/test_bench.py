"""`pirender bench`'s measurement core: every default case runs, beside the baseline, with its fidelity."""

from __future__ import annotations

import math

import torch

from pirender.bench.renderer_speed import bench_renderer, default_cases, format_results
from pirender.bench.streaming_memory import streaming_memory
from pirender.engine.core import bf16_supported


def test_bench_runs_every_default_case() -> None:
    torch.set_num_threads(2)  # the frame-worker cases need 2 threads; the autouse fixture restores 1
    cases = [c for c in default_cases() if c.backend != "onnx"]  # ONNX: tests/engine/test_onnx.py
    names = [c.name for c in cases]
    assert any("frame workers" in n for n in names) and any("1 thread" in n for n in names)
    assert any("bf16" in n for n in names) == bf16_supported(torch.device("cpu"))
    results = bench_renderer(sizes=(64,), cases=cases, rounds=1, measure_memory=False, log=lambda _: None)
    assert [r.case.name for r in results] == names
    assert results[0].speedup == 1.0 and results[0].max_abs == 0.0  # the baseline is the reference
    for r in results:
        assert r.s_per_frame > 0 and math.isfinite(r.speedup)
        bound = (0.05, 0.005) if r.case.precision == "bf16" else (1e-4, 1e-5)
        assert r.max_abs <= bound[0] and r.mean_abs <= bound[1], r.case.name
    table = format_results(results)
    assert len(table.splitlines()) == len(results) + 1 and "frame workers" in table


def test_streaming_memory_report() -> None:
    report = streaming_memory(motion_frames=40, render_frames=12, size=64, log=lambda _: None)
    assert report.motion_frames == 40 and report.rendered_frames == 12
    assert len(report.rss_trace_gb) == 12 // report.batch
    assert 0 < report.peak_rss_gb < 4 and report.seconds > 0
