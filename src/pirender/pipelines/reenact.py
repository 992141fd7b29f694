"""Motion imitation (paper Sec. 4.2): a source portrait performs the motion of a driving video or file.

    >>> import pirender
    >>> video = pirender.reenact("face.png", "driver.mp4")        # lazy: nothing rendered yet
    >>> for frame in video: ...                                   # (H, W, 3) uint8, streamed
    >>> pirender.reenact("face.png", "motion.npz", output="out.mp4", renderer="model_dir/")

Compared with the official `inference.py` (LMDB test set only, batch 1, GPU, silent 15 fps mp4v of
[ground truth | warp | fake]): any portrait and any motion source, batched rendering on CPU or GPU,
the driving audio muxed into an H.264 MP4 at the motion's own frame rate.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pirender.errors import InputError
from pirender.pipelines.base import RendererPipeline
from pirender.pipelines.front_door import JobKeywords, open_pipeline, write_result
from pirender.pipelines.motion_transfer import MOTION_MODES, transfer_motion
from pirender.pipelines.output import (
    VIDEO_OUTPUTS,
    AudioLike,
    RenderedVideo,
    check_output_path,
    hstack,
    panel_width,
)
from pirender.pipelines.render import render_coeffs
from pirender.pipelines.source import (
    CoeffsLike,
    Driving,
    DrivingLike,
    ImageLike,
    PreparedSource,
    SourceCrop,
    load_driving,
    prepare_source,
    source_coefficients,
)

MotionArg = Literal["auto", "absolute", "relative"]
Layout = Literal["result", "side-by-side"]
LAYOUTS: tuple[str, ...] = ("result", "side-by-side")


@dataclass
class ReenactPipeline(RendererPipeline):
    """Render a source portrait with a driving motion. Build with `from_pretrained`; call per job
    (attributes: see RendererPipeline)."""

    def __call__(
        self,
        source: ImageLike,
        driving: DrivingLike,
        *,
        motion: MotionArg = "auto",
        source_coeffs: CoeffsLike = None,
        crop: SourceCrop = "auto",
        paste_back: bool = True,
        layout: Layout = "result",
        audio: AudioLike | Literal["driving"] = "driving",
        fps: float | None = None,
        progress: bool = False,
    ) -> RenderedVideo:
        """Prepare everything and return the video, rendered lazily when iterated or saved.

        Args:
            source: portrait image, video (its first frame) or (H, W, 3) uint8 array.
            driving: driving video (coefficients extracted), motion file, Motion or (T, 73) array.
            motion: "absolute" (driving coefficients, crop scale normalised to the source, as the
                official cross-id inference), "relative" (driving change from its first frame added to
                the source's coefficients) or "auto" (absolute when the source is the driving video
                itself, i.e. the same identity, else relative).
            source_coeffs: the source's (73,) coefficients or a motion file; None = estimated (or, when
                the source is the driving video, the motion's first frame).
            crop: how to cut the face out of the source (see pipelines.source).
            paste_back: put the rendered face back into a cropped source photo (feathered edge).
            layout: "result", or "side-by-side" = source | driving | result (driving panel only when
                the motion came from a video).
            audio: "driving" (the driving video's / motion file's audio), None, a file or (samples, rate).
            fps: override the motion's frame rate.
            progress: bars on stderr while a driving video's motion is extracted.
        Returns:
            RenderedVideo of T frames at the motion's fps.
        """
        same_identity = _same_file(source, driving)
        mode = resolve_motion_mode(motion, same_identity)
        if fps is not None and not fps > 0:
            raise InputError(f"fps must be positive, got {fps}")
        # 1. Prepare the source: read it, cut the face crop the renderer sees.
        prepared = prepare_source(source, size=self.image_size, crop=crop)
        self.note_source(prepared)
        # 2. Load the driving motion (extracting it from a video if needed).
        drive = load_driving(
            driving, source=source, extractor=self.extractor, device=self.device, fps=fps, progress=progress
        )
        # 3. The source's own coefficients: given, the driving video's first frame, or estimated.
        if source_coeffs is None and same_identity:
            source_coeffs = drive.motion.coeffs[:1]
        own = source_coefficients(prepared, source_coeffs, extractor=self.extractor, device=self.device)
        # 4. Transfer the motion onto the source (absolute or relative).
        coeffs = transfer_motion(drive.motion.coeffs, own, mode)
        # 5. Lay out each output frame (result alone, or source | driving | result).
        compose, size = self._layout(prepared, drive, layout, paste_back)
        # 6. A lazily rendered video carrying the driving audio.
        engine, tensor = self.engine, prepared.tensor

        def frames() -> Iterator[np.ndarray]:
            rendered = render_coeffs(engine, tensor, coeffs, windows="temporal", source_coeffs=own)
            driving_frames = drive.frames(self.image_size)
            for crop_frame in rendered:
                driving_frame = next(driving_frames, None) if driving_frames is not None else None
                yield compose(crop_frame, driving_frame)

        return RenderedVideo(frames, len(coeffs), fps or drive.motion.fps, size, _audio(audio, drive))

    def _layout(
        self, prepared: PreparedSource, drive: Driving, layout: Layout, paste_back: bool
    ) -> tuple[Any, tuple[int, int]]:
        """-> (compose(rendered_crop, driving_crop | None) -> frame, (width, height) of every frame)."""
        if layout not in LAYOUTS:
            raise InputError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        pasted = prepared.transform is not None and paste_back
        height, width = prepared.output_shape(paste_back=paste_back)
        if layout == "result":
            return (lambda rendered, _: prepared.paste(rendered, paste_back=paste_back)), (width, height)
        source_panel = prepared.image if pasted else prepared.crop
        blank = np.zeros((self.image_size, self.image_size, 3), np.uint8)
        show_driving = drive.video is not None

        def compose(rendered: np.ndarray, driving: np.ndarray | None) -> np.ndarray:
            result = prepared.paste(rendered, paste_back=paste_back)
            if not show_driving:
                return hstack([source_panel, result], height=height)
            return hstack([source_panel, driving if driving is not None else blank, result], height=height)

        panel_shapes = [source_panel.shape[:2]] + (
            [(self.image_size, self.image_size)] if show_driving else []
        )
        total = sum(panel_width(shape, height) for shape in panel_shapes) + width
        return compose, (total, height)


def resolve_motion_mode(motion: str, same_identity: bool) -> str:
    """Resolve "auto": absolute for the same identity, relative across identities (validated)."""
    if motion == "auto":
        return "absolute" if same_identity else "relative"
    if motion not in MOTION_MODES:
        raise InputError(f"motion must be auto, absolute or relative, got {motion!r}")
    return motion


def _same_file(source: Any, driving: Any) -> bool:
    if not isinstance(source, str | os.PathLike) or not isinstance(driving, str | os.PathLike):
        return False
    try:
        return Path(source).resolve() == Path(driving).resolve()
    except OSError:
        return False


def _audio(audio: AudioLike | str, drive: Driving) -> AudioLike:
    if isinstance(audio, str) and audio == "driving":
        if drive.video is not None and drive.has_audio:
            return drive.video
        return drive.motion.audio_path if drive.has_audio else None
    if isinstance(audio, str | os.PathLike) and not Path(audio).is_file():
        raise InputError(f"audio file not found: {audio}")
    return audio


REENACT = JobKeywords(ReenactPipeline.__call__)


@REENACT.shown
def reenact(
    source: ImageLike,
    driving: DrivingLike,
    *,
    output: str | os.PathLike[str] | None = None,
    **keywords: Any,
) -> RenderedVideo | Path:
    """Reenact `source` with `driving` (the Python face of `pirender reenact`).

    Keywords: those of `ReenactPipeline.__call__` (motion, source_coeffs, crop, paste_back, layout,
    audio, fps, progress: bars while a driving video is extracted and while saving; same names and
    defaults) and the model and runtime keywords of every front-door function (`renderer`,
    `extractor`, `size`, `device`, `precision`, `backend`, `batch_size`, `workers`:
    pipelines.front_door.ModelArgs).

    Returns:
        With `output`: the written MP4's path (rendered and encoded in a stream, written atomically).
        Without: a lazy RenderedVideo (iterate it for frames, `.to_array()`, `.save(path)`).
    """
    job, models = REENACT.split(keywords)
    if output is not None:  # before any model is loaded or frame rendered
        check_output_path(output, VIDEO_OUTPUTS, inputs=(source, driving, job["source_coeffs"], job["audio"]))
    pipeline = open_pipeline(ReenactPipeline, "reenact", models)
    return write_result(pipeline(source, driving, **job), output, progress=job["progress"])


__all__ = ["ReenactPipeline", "reenact", "resolve_motion_mode"]
