"""Peak memory of a long streamed reenactment: all descriptors at once, frames rendered and encoded
batch by batch, so memory must not grow with the number of frames.

`streaming_memory(frames=1000)` renders and encodes every frame (at 256x256 that takes frames / fps
seconds); `render_frames=K` renders only the first K of the 1000-frame motion and reports the RSS trace,
from which the growth per frame is read (it should be ~0 once the first batches have run).
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pirender.bench.reference_weights import rule_renderer
from pirender.bench.renderer_speed import process_peak_rss_gb
from pirender.engine import RenderEngine
from pirender.models.inputs import reference_inputs


def _rss_gb() -> float:
    """Current resident set size of this process (Linux /proc), in GiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 1024**3


@dataclass
class StreamingReport:
    motion_frames: int
    rendered_frames: int
    batch: int
    seconds: float
    peak_rss_gb: float
    rss_trace_gb: list[float]  # current RSS after each batch

    def growth_mb_per_100_frames(self) -> float:
        """RSS slope over the second half of the run (after warm-up), in MiB per 100 frames."""
        tail = self.rss_trace_gb[len(self.rss_trace_gb) // 2 :]
        if len(tail) < 2:
            return float("nan")
        slope = np.polyfit(np.arange(len(tail)) * self.batch, np.array(tail) * 1024, 1)[0]
        return float(slope * 100)


def streaming_memory(
    *,
    motion_frames: int = 1000,
    render_frames: int | None = None,
    size: int = 256,
    engine_kwargs: dict | None = None,
    log: Callable[[str], None] = print,
) -> StreamingReport:
    """Encode a `motion_frames` motion at once, render (the first `render_frames` of) it into an MP4."""
    from pirender.media.video import VideoWriter

    renderer = rule_renderer()
    engine = RenderEngine(renderer, **(engine_kwargs or {}))
    source, _ = reference_inputs(1, size)
    g = torch.Generator().manual_seed(5)
    windows = torch.randn(motion_frames, 73, 27, generator=g) * 0.05
    windows[:, 70:] = torch.tensor([1.2, 128.0, 128.0])[:, None]
    descriptors = engine.encode_motion(windows)  # all of them, once
    count = min(render_frames or motion_frames, motion_frames)
    trace = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        with VideoWriter(Path(tmp) / "out.mp4", fps=25) as writer:
            for frames in engine.render_frames(source, descriptors[:count]):
                for frame in frames:
                    writer.write(frame)
                trace.append(_rss_gb())
                if len(trace) % 5 == 0:
                    log(f"{len(trace) * engine.batch_size} frames, RSS {trace[-1]:.2f} GB")
    return StreamingReport(
        motion_frames, count, engine.batch_size, time.perf_counter() - start, process_peak_rss_gb(), trace
    )
