"""Edit a video of a person: every frame is the source of its own render, only chosen coefficients change.

    >>> import pirender
    >>> pirender.edit_video("talk.mp4", exp={"smile": "0@0s,1@2s,1@5s,0@6s"}, output="smiling.mp4")
    >>> pirender.edit_video("talk.mp4", pose_scale=0.5, output="calm.mp4")

Per frame (streamed; nothing but the (T, 73) coefficients and one chunk of frames is held):
1. the face is found and tracked (crop boxes smoothed over time, so the crop does not jitter); a
   square video is taken to be face crops already, as for a driving video;
2. the frame's own coefficients are extracted from its crop and smoothed over time;
3. the recipe (`pipelines.video_edits.VideoEdit`) changes only what was asked for;
4. the crop is rendered twice with itself as the source: with its own coefficients (the
   reconstruction) and with the edited ones;
5. only where the edit changes the render (`keep_unchanged.change_mask`) is the edited render used,
   colour-matched to the frame by adding back the low frequencies of (frame - reconstruction), so the
   renderer's own colour and blur error cancels; it is pasted into the full-resolution frame through
   that mask, so every pixel the edit does not touch is the input's, bit for bit;
6. frames without a face, and frames the edit leaves unchanged, are passed through untouched.

The output keeps the input's frame rate and (for `edit`) its audio track. A variable-frame-rate input
is read frame by frame and timed at its average rate (PyAV's average_rate), which is what players show
for the frames' order; keyframe times are then positions at that rate.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from pirender.errors import InputError
from pirender.motion.coeffs import check_coeffs, motion_windows, window_centres
from pirender.motion.crop import CropInfo, CropTransform
from pirender.motion.faces import FaceSelect
from pirender.motion.smooth import SmoothingConfig, smooth_motion
from pirender.pipelines.base import RendererPipeline
from pirender.pipelines.keep_unchanged import ChangeMaskConfig, change_mask
from pirender.pipelines.models import ExtractorSpec, load_extractor
from pirender.pipelines.output import AudioLike, RenderedVideo
from pirender.pipelines.source import PASTE_FEATHER, VideoCrop, resize_square, to_tensor
from pirender.pipelines.video_edits import VideoEdit

CHUNK = 16  # frames decoded, rendered and pasted together
COLOUR_SIGMA = 4.0  # px at 128: low-pass of (frame - reconstruction) added to the edited render
EXTRACT_CHUNK = 64


class FacelessFramesWarning(UserWarning):
    """Some frames of a video had no face; they were passed through unchanged."""


@dataclass(frozen=True)
class VideoAnalysis:
    """A video's faces and motion: what every later step of a video edit reads.

    Attributes:
        path: the video.
        fps: its (average) frame rate.
        size: (width, height) of its frames.
        has_audio: whether it has an audio track.
        coeffs: (T, 73) each frame's own coefficients, smoothed over time.
        crops: (T,) crop transforms of the face; None: the frames are square face crops already.
        found: (T,) bool, whether a face was found in the frame.
    """

    path: Path
    fps: float
    size: tuple[int, int]
    has_audio: bool
    coeffs: np.ndarray
    crops: CropInfo | None
    found: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.coeffs)

    def transform(self, index: int, side: int) -> CropTransform:
        """Where frame `index`'s crop sits in the frame (the whole frame for a square video)."""
        if self.crops is not None:
            return self.crops[index]
        w, h = self.size
        return CropTransform(w / 2, h / 2, float(w), side, w, h)


def analyse_video(
    path: str | os.PathLike[str],
    *,
    size: int,
    extractor: ExtractorSpec | None = None,
    device: str = "cpu",
    crop: VideoCrop = "auto",
    smoothing: SmoothingConfig | None = None,
    name: str = "video",
) -> VideoAnalysis:
    """Track the face through a video and extract every frame's coefficients (two streamed passes).

    Args:
        path: the video file.
        size: side S of the crops the renderer and the extractor see.
        crop: "auto" = a square video is face crops already, any other is tracked; "always" tracks
            square videos too; "never" refuses a non-square one; a FaceSelect tracks the face it
            selects (in the first frame with faces).
        smoothing: the temporal filter of the extracted coefficients (None = SmoothingConfig()).
    Raises:
        InputError: not a video, no frames, or no face in any frame.
    """
    from pirender.media.video import is_video_path, iter_video_frames, probe_video

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{name} not found: {path}")
    if not is_video_path(path):
        raise InputError(f"{name}: {path} is not a video file")
    info = probe_video(path)
    w, h = info.width, info.height
    if crop == "never" and w != h:
        raise InputError(f"{name}: a {w}x{h} video is not square face crops; use crop 'auto'")
    crops: CropInfo | None = None
    found: np.ndarray | None = None
    if isinstance(crop, FaceSelect) or crop == "always" or (crop == "auto" and w != h):
        from pirender.motion.faces import FaceCropper

        with FaceCropper(size=size) as cropper, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # several faces: the largest is followed, as documented
            face = crop if isinstance(crop, FaceSelect) else None
            crops, landmarks = cropper.track(iter_video_frames(path), info.fps, name=str(path), face=face)
        found = ~np.isnan(landmarks[:, 0, 0])
    extract = load_extractor(extractor, device).extract
    chunks, batch = [], []
    for index, frame in enumerate(iter_video_frames(path)):
        batch.append(crops[index].apply(frame) if crops is not None else resize_square(frame, size))
        if len(batch) == EXTRACT_CHUNK:
            chunks.append(np.asarray(extract(batch)))
            batch = []
    if batch:
        chunks.append(np.asarray(extract(batch)))
    if not chunks:
        raise InputError(f"{name}: {path} has no frames")
    coeffs = np.concatenate(chunks).astype(np.float32)
    if found is None:
        found = np.ones(len(coeffs), dtype=bool)
    found = found[: len(coeffs)]
    if crops is not None and len(crops) != len(coeffs):
        raise InputError(
            f"{name}: {path} decoded {len(coeffs)} frames on one pass and {len(crops)} on another"
        )
    # Frames without a face take the nearest face frame's coefficients, so they do not pull the
    # smoothing of their neighbours (they are passed through unrendered).
    if not found.all():
        nearest = ndimage.distance_transform_edt(~found, return_distances=False, return_indices=True)[0]
        coeffs = coeffs[nearest]
    coeffs = smooth_motion(coeffs, info.fps, smoothing)
    check_coeffs(coeffs, name=f"{path} (extracted)")
    return VideoAnalysis(path, float(info.fps), (w, h), bool(info.has_audio), coeffs, crops, found)


def frames_in_order(path: Path, order: np.ndarray, workdir: Path) -> Iterator[np.ndarray]:
    """The video's frames at `order` (indices): streamed when the order only moves forward by one;
    otherwise (a ping-pong loop) decoded once into a memory-mapped file in `workdir` and read from it."""
    from pirender.media.video import iter_video_frames

    if np.array_equal(order, np.arange(len(order))):
        yield from iter_video_frames(path, max_frames=len(order))
        return
    store: np.memmap | None = None
    needed = int(order.max()) + 1
    for index, frame in enumerate(iter_video_frames(path, max_frames=needed)):
        if store is None:
            store = np.memmap(workdir / "frames.u8", np.uint8, "w+", shape=(needed, *frame.shape))
        store[index] = frame
    assert store is not None
    for index in order:
        yield np.array(store[index])


@dataclass
class VideoEditPipeline(RendererPipeline):
    """Edit videos frame by frame with each frame as its own source. Build with `from_pretrained`."""

    mask: ChangeMaskConfig = ChangeMaskConfig()

    def analyse(
        self,
        video: str | os.PathLike[str],
        *,
        crop: VideoCrop = "auto",
        smoothing: SmoothingConfig | None = None,
    ) -> VideoAnalysis:
        """The video's faces and coefficients (`analyse_video` with this pipeline's extractor)."""
        analysis = analyse_video(
            video, size=self.image_size, extractor=self.extractor, device=self.device, crop=crop,
            smoothing=smoothing,
        )  # fmt: skip
        if self.synthetic_only and (analysis.crops is not None or max(analysis.size) > self.image_size):
            from pirender.pipelines.models import notice_synthetic_renderer

            notice_synthetic_renderer()
        return analysis

    def __call__(
        self,
        analysis: VideoAnalysis,
        edit: VideoEdit | None = None,
        *,
        order: np.ndarray | None = None,
        mouth: np.ndarray | None = None,
        audio: AudioLike = None,
        keep_audio: bool = True,
    ) -> RenderedVideo:
        """Render the edited video lazily.

        Args:
            analysis: from `analyse`.
            edit: the recipe (None: no change; the output is then the input's frames).
            order: (N,) video frame shown at each output frame (None: every frame once, in order);
                dubbing uses it to cut the video or play it back and forth.
            mouth: (N, 73) motion whose mouth-group columns replace the frames' own (dubbing).
            audio: the output's audio (a file or (samples, rate)); None with `keep_audio`: the video's.
        Returns:
            A RenderedVideo at the video's size and frame rate (frames without a face are counted in
            a FacelessFramesWarning).
        """
        edit = edit or VideoEdit()
        order = np.arange(analysis.num_frames) if order is None else np.asarray(order, dtype=int)
        if len(order) == 0 or order.min() < 0 or order.max() >= analysis.num_frames:
            raise InputError(f"frame order must index the video's {analysis.num_frames} frames")
        edit.check_length(len(order), analysis.fps)
        own = analysis.coeffs[order]
        edited = edit.apply(own, analysis.fps, mouth=mouth)
        found = analysis.found[order]
        faceless = int((~found).sum())
        if faceless:
            warnings.warn(
                f"{analysis.path}: no face in {faceless} of {len(order)} frames; they are passed through unchanged",
                FacelessFramesWarning,
                stacklevel=2,
            )
        if audio is None and keep_audio and analysis.has_audio:
            audio = str(analysis.path)
        engine, side, mask_config = self.engine, self.image_size, self.mask

        def frames() -> Iterator[np.ndarray]:
            with tempfile.TemporaryDirectory(prefix="pirender-video-") as workdir:
                source = frames_in_order(analysis.path, order, Path(workdir))
                for start in range(0, len(order), CHUNK):
                    indices = np.arange(start, min(start + CHUNK, len(order)))
                    chunk = [next(source) for _ in indices]
                    yield from _edit_chunk(
                        engine, chunk, indices, order, own, edited, found, analysis, side, mask_config
                    )

        return RenderedVideo(frames, len(order), analysis.fps, analysis.size, audio)


def _edit_chunk(
    engine: Any,
    chunk: Sequence[np.ndarray],
    indices: np.ndarray,
    order: np.ndarray,
    own: np.ndarray,
    edited: np.ndarray,
    found: np.ndarray,
    analysis: VideoAnalysis,
    side: int,
    mask_config: ChangeMaskConfig,
) -> list[np.ndarray]:
    """One chunk of output frames: render the frames the edit changes, paste them, pass the rest."""
    radius = engine.config.semantic_radius
    own_windows = motion_windows(own, indices, radius)  # (n, 73, 2r+1)
    edited_windows = motion_windows(edited, indices, radius)
    changed = found[indices] & np.any(own_windows != edited_windows, axis=(1, 2))
    out = [np.array(frame) for frame in chunk]
    todo = np.flatnonzero(changed)
    if len(todo) == 0:
        return out
    transforms = [analysis.transform(int(order[indices[i]]), side) for i in todo]
    crops = [t.apply(chunk[i]) for t, i in zip(transforms, todo, strict=True)]
    sources = torch.cat([to_tensor(c) for c in crops])
    windows = np.concatenate([own_windows[todo], edited_windows[todo]])
    own_centres = window_centres(own_windows[todo])  # each frame is its own source
    descriptors = engine.encode_motion(windows, np.concatenate([own_centres, own_centres]))
    rendered = np.concatenate(list(engine.render_frames(torch.cat([sources, sources]), descriptors)))
    sigma = COLOUR_SIGMA * side / 128
    for k, i in enumerate(todo):
        reconstruction, new = rendered[k], rendered[len(todo) + k]
        mask = change_mask(new, reconstruction, mask_config)
        if not mask.any():
            continue
        offset = ndimage.gaussian_filter(
            crops[k].astype(np.float32) - reconstruction.astype(np.float32),
            sigma=(sigma, sigma, 0),
            mode="nearest",
        )
        matched = np.clip(np.rint(new.astype(np.float32) + offset), 0, 255).astype(np.uint8)
        out[i] = transforms[k].paste_back(chunk[i], matched, feather=PASTE_FEATHER, alpha=mask)
    return out


__all__ = ["FacelessFramesWarning", "VideoAnalysis", "VideoEditPipeline", "analyse_video", "frames_in_order"]
