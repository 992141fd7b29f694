"""What pipelines return and write: a lazily rendered video, panel layouts, checked atomic outputs.

`RenderedVideo` holds a *recipe* for its frames, not the frames: iterating renders them batch by
batch, so a long video streams from the renderer into the encoder (or a notebook loop) without ever
being held in memory. `to_array()` collects a short one; `save(path)` writes an H.264 MP4 with the
audio track, atomically.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pirender.errors import InputError
from pirender.media.output_check import check_output_dir, check_output_path, refuse_input_as_output
from pirender.media.progress import frame_bar

__all__ = ["check_output_dir", "check_output_path", "refuse_input_as_output"]  # checked outputs, re-exported

VIDEO_OUTPUTS = (".mp4", ".mov", ".mkv", ".m4v")
IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
AudioLike = str | os.PathLike[str] | tuple[np.ndarray, int] | None


@dataclass
class RenderedVideo:
    """A video rendered on demand.

    Attributes:
        make_frames: returns a fresh iterator of (H, W, 3) uint8 frames (each call renders again).
        num_frames: T.
        fps: frames per second.
        size: (width, height) of every frame.
        audio: audio to mux: a media file path, (samples, rate), or None.
    """

    make_frames: Callable[[], Iterator[np.ndarray]]
    num_frames: int
    fps: float
    size: tuple[int, int]
    audio: AudioLike = None

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.make_frames()

    def __len__(self) -> int:
        return self.num_frames

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def to_array(self) -> np.ndarray:
        """All frames, (T, H, W, 3) uint8: for short clips (long ones: iterate instead)."""
        frames = np.empty((self.num_frames, self.size[1], self.size[0], 3), dtype=np.uint8)
        count = 0
        for count, frame in enumerate(self, start=1):
            frames[count - 1] = frame
        return frames[:count]

    def save(self, path: str | os.PathLike[str], *, crf: int = 18, progress: bool = False) -> Path:
        """Write an H.264 MP4 (with the audio track, if any) atomically; returns the path."""
        from pirender.media.video import VideoWriter

        path = check_output_path(path, VIDEO_OUTPUTS)
        frames = iter(frame_bar(iter(self), self.num_frames, path.name, progress))
        with VideoWriter(path, self.fps, self.size, audio=self.audio, crf=crf) as writer:
            for frame in frames:
                writer.write(frame)
        return path


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """Resize (h, w, 3) uint8 to the given height, keeping the aspect ratio."""
    h, w = image.shape[:2]
    if h == height:
        return image
    width = max(1, round(w * height / h))
    return np.asarray(
        Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC), dtype=np.uint8
    )


def hstack(panels: Sequence[np.ndarray], *, height: int | None = None) -> np.ndarray:
    """Panels side by side, each resized to `height` (default: the first panel's)."""
    height = height or panels[0].shape[0]
    return np.concatenate([fit_height(p, height) for p in panels], axis=1)


def panel_width(shape: tuple[int, int], height: int) -> int:
    """Width of an (h, w) panel once fitted to `height` (matches fit_height)."""
    h, w = shape
    return w if h == height else max(1, round(w * height / h))


def grid(images: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """Rows of equally sized (H, W, 3) images -> one image; short rows are padded with white."""
    rows = [list(r) for r in images if len(r)]
    if not rows:
        raise InputError("a grid needs at least one image")
    height, width = rows[0][0].shape[:2]
    columns = max(len(r) for r in rows)
    out = np.full((height * len(rows), width * columns, 3), 255, dtype=np.uint8)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            out[i * height : (i + 1) * height, j * width : (j + 1) * width] = image
    return out
