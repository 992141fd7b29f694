"""Coefficients -> rendered face crops, streamed chunk by chunk through the RenderEngine.

The only place pipelines touch the renderer. Windows, descriptors and frames exist for one chunk at a
time, so memory stays flat however long the motion is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from pirender.motion.coeffs import constant_windows, motion_windows

if TYPE_CHECKING:
    from pirender.engine import RenderEngine

WindowMode = Literal["temporal", "constant"]
CHUNK_FRAMES = 32  # frames whose windows/descriptors are built at once (a multiple of the batch is used)


def render_coeffs(
    engine: RenderEngine,
    source_image: torch.Tensor,
    coeffs: np.ndarray,
    *,
    windows: WindowMode = "temporal",
    source_coeffs: np.ndarray | None = None,
    warp_only: bool = False,
) -> Iterator[np.ndarray]:
    """Render one frame per coefficient row.

    Args:
        engine: the RenderEngine (device, precision, batch size).
        source_image: (1, 3, S, S) float in [-1, 1].
        coeffs: (T, 73) per-frame coefficients, already checked (`motion.coeffs.check_coeffs`: each
            pipeline checks its inputs once, where they come in, and computes these from them).
        windows: "temporal" = frame t sees frames t-r .. t+r of the sequence (reenactment, speech);
            "constant" = frame t's vector repeated (still edits and sweeps, as the official demo).
        source_coeffs: (73,) the source image's own coefficients, for a source-conditioned renderer
            (ignored by the others).
        warp_only: yield the warped source (the warping network's output) instead.
    Yields:
        (S, S, 3) uint8 frames, T of them, in order.
    """
    coeffs = np.asarray(coeffs, dtype=np.float32)
    radius = engine.config.semantic_radius
    num_frames = len(coeffs)
    batch = max(1, engine.batch_size)
    chunk = max(batch, CHUNK_FRAMES // batch * batch)
    for start in range(0, num_frames, chunk):
        indices = np.arange(start, min(start + chunk, num_frames))
        if windows == "temporal":
            window = motion_windows(coeffs, indices, radius)  # (n, 73, 2r+1)
        else:
            window = constant_windows(coeffs[indices], 2 * radius + 1)
        own = None if source_coeffs is None else np.repeat(np.asarray(source_coeffs)[None], len(indices), 0)
        descriptors = engine.encode_motion(window, own)  # (n, D, 1)
        for frames in engine.render_frames(source_image, descriptors, warp_only=warp_only):
            yield from frames  # (b, S, S, 3) -> b frames
