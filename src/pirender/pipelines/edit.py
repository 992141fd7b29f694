"""Intuitive portrait editing (paper Sec. 4.3): change head pose and expression of one portrait.

    >>> import pirender
    >>> image = pirender.edit("face.png", yaw=20, exp={"smile": 1.0})     # (H, W, 3) uint8
    >>> video = pirender.edit("face.png", sweep="yaw:-20:20:30")           # lazy RenderedVideo
    >>> grid = pirender.edit("face.png", sweep=["yaw:-20:20:5", "preset:smile,frown"], grid=True)

The official `intuitive_control.py` overwrites rows 64:70 (pose) or 0:64 (expression) of the image's
coefficient row repeated 27 times, with hard-coded angles and the four vectors of its expression.mat.
Here an edit is a named recipe (`pipelines.edits.Edit`), expressions come from preset files, another
image or a motion, and any pose or expression parameter can be swept or laid out in a grid.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pirender.errors import InputError
from pirender.motion.coeffs import EXP
from pirender.motion.sequence import Motion
from pirender.pipelines.base import RendererPipeline
from pirender.pipelines.edits import Edit, Sweep, build_edit, parse_sweeps
from pirender.pipelines.front_door import JobKeywords, open_pipeline, write_result
from pirender.pipelines.keep_unchanged import ChangeMaskConfig
from pirender.pipelines.keep_unchanged import keep_unchanged as keep_unchanged_pixels
from pirender.pipelines.models import ExtractorSpec
from pirender.pipelines.output import IMAGE_OUTPUTS, VIDEO_OUTPUTS, RenderedVideo, check_output_path
from pirender.pipelines.output import grid as grid_image
from pirender.pipelines.render import render_coeffs
from pirender.pipelines.source import (
    CoeffsLike,
    ImageLike,
    SourceCrop,
    first_frame,
    is_video,
    prepare_source,
    source_coefficients,
)

DEFAULT_SWEEP_FPS = 25.0


@dataclass
class EditPipeline(RendererPipeline):
    """Render semantic edits of one portrait. Build with `from_pretrained`; call per job."""

    def __call__(
        self,
        source: ImageLike,
        edit: Edit | None = None,
        *,
        sweep: str | Sweep | Sequence[str | Sweep] | None = None,
        grid: bool = False,
        fps: float = DEFAULT_SWEEP_FPS,
        source_coeffs: CoeffsLike = None,
        crop: SourceCrop = "auto",
        paste_back: bool = True,
        keep_unchanged: bool | ChangeMaskConfig = False,
    ) -> np.ndarray | RenderedVideo:
        """Apply `edit` (and the sweeps on top of it) to the source portrait.

        Args:
            source: portrait image, video (first frame) or (H, W, 3) uint8 array.
            edit: the recipe; None = no change (the model's reconstruction of the source).
            sweep: one or more sweeps (Sweep objects or "yaw:-20:20:30" strings), each frames
                varying one parameter, played one after another (a video), or one grid row each with
                `grid`.
            fps: frame rate of a sweep video.
            source_coeffs: the source's own coefficients (array or motion file); None = estimated.
            crop, paste_back: as for reenactment (pipelines.source).
            keep_unchanged: keep the source's pixels wherever the edit does not change the render
                (pipelines.keep_unchanged; one extra render, of the source's own coefficients); a
                ChangeMaskConfig sets its thresholds and seam.
        Returns:
            (H, W, 3) uint8 image without sweeps or with `grid` (rows x columns of edits);
            a lazily rendered RenderedVideo with sweeps.
        """
        edit = edit or Edit()
        sweeps = parse_sweeps(sweep)
        if grid and not sweeps:
            raise InputError("a grid needs at least one sweep (one row per sweep)")
        # 1. Prepare the source: read it, cut the face crop the renderer sees.
        prepared = prepare_source(source, size=self.image_size, crop=crop)
        self.note_source(prepared)
        # 2. The source's own coefficients.
        own = source_coefficients(prepared, source_coeffs, extractor=self.extractor, device=self.device)
        # 3. Expand the recipe into one edit per output frame (rows of a grid).
        rows = [sweep.edits(edit) for sweep in sweeps] or [[edit]]
        # 4. The edited coefficients, (N, 73).
        coeffs = np.stack([e.apply(own) for row in rows for e in row])
        # 5. Render: each frame's window is its own vector repeated (a still pose, as the official demo).
        engine, tensor = self.engine, prepared.tensor
        mask_config = keep_unchanged if isinstance(keep_unchanged, ChangeMaskConfig) else ChangeMaskConfig()

        def frames() -> Iterator[np.ndarray]:
            if keep_unchanged:  # the reconstruction: what the renderer makes of the unedited source
                reconstruction = next(
                    render_coeffs(engine, tensor, own[None], windows="constant", source_coeffs=own)
                )
            for rendered in render_coeffs(engine, tensor, coeffs, windows="constant", source_coeffs=own):
                if keep_unchanged:
                    rendered = keep_unchanged_pixels(prepared.crop, rendered, reconstruction, mask_config)
                yield prepared.paste(rendered, paste_back=paste_back)

        # 6. Package: one image, a grid image, or a video.
        if not sweeps:
            return next(frames())
        if grid:
            images = list(frames())
            lengths = np.cumsum([0] + [len(r) for r in rows])
            return grid_image([images[a:b] for a, b in zip(lengths[:-1], lengths[1:], strict=True)])
        height, width = prepared.output_shape(paste_back=paste_back)
        return RenderedVideo(frames, len(coeffs), fps, (width, height))

    def expression_of(self, reference: ImageLike | Motion) -> np.ndarray:
        """(64,) expression of another face, estimated with this pipeline's extractor."""
        return expression_of(reference, extractor=self.extractor, size=self.image_size, device=self.device)


def expression_of(
    reference: ImageLike | Motion,
    *,
    extractor: ExtractorSpec | None = None,
    size: int = 256,
    device: str = "cpu",
) -> np.ndarray:
    """(64,) expression of another face: frame 0 of a motion file / Motion, or estimated from an image
    or video (first frame; cropped by the source rules)."""
    from pirender.media.image import is_image_path

    if isinstance(reference, Motion) or (
        isinstance(reference, str | os.PathLike) and not is_video(reference) and not is_image_path(reference)
    ):
        return first_frame(reference, name="expression source")[EXP].copy()
    prepared = prepare_source(reference, size=size, name="expression image")
    return source_coefficients(prepared, extractor=extractor, device=device)[EXP].copy()


EDIT = JobKeywords(build_edit, EditPipeline.__call__, hide=("expression",))


@EDIT.shown
def edit(
    source: ImageLike,
    *,
    output: str | os.PathLike[str] | None = None,
    expression_from: ImageLike | Motion | None = None,
    progress: bool = False,
    **keywords: Any,
) -> np.ndarray | RenderedVideo | Path:
    """Edit a portrait's pose and expression (the Python face of `pirender edit`).

    Pose values are degrees (yaw, pitch, roll) and 3DMM units (tx, ty, tz), absolute unless `relative`;
    `exp` sets expression slots ({"smile": 1.0} or ["5=0.8"]); `preset` names a preset file;
    `expression_from` copies another face's expression; `sweep` adds animated parameters
    ("yaw:-20:20:30"), laid out as one image per row with `grid`. See pipelines.edits for the order.
    `keep_unchanged` keeps the source's own pixels wherever the edit leaves the render alone.
    Keywords: the recipe's, as `pipelines.edits.build_edit` (yaw, pitch, roll, tx, ty, tz, exp,
    preset, preset_strength, relative), the job's, as `EditPipeline.__call__` (sweep, grid, fps,
    source_coeffs, crop, paste_back, keep_unchanged), both with their names and defaults, and the
    model and runtime keywords of every front-door function (`renderer`, `extractor`, `size`,
    `device`, ...: pipelines.front_door.ModelArgs).

    Returns:
        With `output`: its path (.png/.jpg for an image or grid, .mp4 for a sweep), written atomically.
        Without: the (H, W, 3) uint8 image (or grid), or a lazy RenderedVideo for a sweep.
    """
    recipe, job, models = EDIT.split(keywords)
    job["sweep"] = parse_sweeps(job["sweep"])  # before any model loads
    if output is not None:
        wants_video = bool(job["sweep"]) and not job["grid"]
        check_output_path(
            output,
            VIDEO_OUTPUTS if wants_video else IMAGE_OUTPUTS,
            inputs=(source, job["source_coeffs"], expression_from),
        )
    pipeline = open_pipeline(EditPipeline, "edit", models)
    expression = None if expression_from is None else pipeline.expression_of(expression_from)
    result = pipeline(source, build_edit(**recipe, expression=expression), **job)
    return write_result(result, output, progress=progress)


__all__ = ["EditPipeline", "edit", "expression_of"]
