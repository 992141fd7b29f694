"""What the web app's Video tab does: edit an uploaded video frame by frame, or dub it to speech.

Plain functions over `pipelines.dub` (no gradio), like `ui.handlers`. The video is its own source:
the portrait of the other tabs is not used. Every user mistake is a `PirenderError` with one line;
a request longer than the app's `Limits.max_frames` is refused before anything is rendered.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import NamedTuple

from pirender.errors import InputError
from pirender.media.audio import load_audio
from pirender.media.video import is_video_path, probe_video
from pirender.pipelines.video_edit import FacelessFramesWarning
from pirender.pipelines.video_edits import build_video_edit, expression_space
from pirender.ui.handlers import AppModels

NO_VIDEO = "No video: upload the video to edit or dub first."
POSE_SCALE_RANGE = (0.0, 1.5)


class VideoResult(NamedTuple):
    """A Video-tab result: the video written, and what the user should be told ("" = nothing)."""

    path: Path
    notice: str


def _faceless_notice(caught: list[warnings.WarningMessage]) -> str:
    """The pipeline's count of frames without a face, without the server-side file path."""
    for w in caught:
        if issubclass(w.category, FacelessFramesWarning):
            return str(w.message).split(": ", 1)[-1]
    return ""


def parse_exp_text(text: str) -> list[str]:
    """'smile=0.8; brow_raise=0@0s,1@2s' (or one per line) -> ['smile=0.8', 'brow_raise=0@0s,1@2s']."""
    return [item.strip() for item in re.split(r"[;\n]", text or "") if item.strip()]


def _video(models: AppModels, path: str | os.PathLike[str] | None) -> Path:
    if not path:
        raise InputError(NO_VIDEO)
    video = Path(path)
    if not is_video_path(video):
        raise InputError(f"{video.name}: not a video file (.mp4, .mov, .mkv, .webm, .avi, .m4v)")
    info = probe_video(video)
    if info.num_frames > models.limits.max_frames:
        raise InputError(
            f"the video is {info.num_frames} frames long; this app renders at most {models.limits.max_frames}"
        )
    return video


def edit_uploaded_video(
    models: AppModels,
    video: str | os.PathLike[str] | None,
    *,
    preset: str | None = None,
    strength: str = "1",
    exp_text: str = "",
    pose_scale: float = 1.0,
    pose_still: bool = False,
    progress: bool = False,
) -> VideoResult:
    """Every frame of the upload edited (offsets/keyframes as `pirender edit --source VIDEO`), its
    own audio kept."""
    path = _video(models, video)
    if not POSE_SCALE_RANGE[0] <= float(pose_scale) <= POSE_SCALE_RANGE[1]:
        raise InputError(
            f"pose scale must be in {POSE_SCALE_RANGE[0]}..{POSE_SCALE_RANGE[1]}, got {pose_scale}"
        )
    pipeline = models.dub_pipeline()
    editor = pipeline.editor
    recipe = build_video_edit(
        exp=parse_exp_text(exp_text),
        preset=preset or None,
        preset_strength=str(strength or "1").strip(),
        pose_scale=float(pose_scale),
        pose_still=bool(pose_still),
        space=expression_space(editor.extractor),
    )
    info = probe_video(path)
    recipe.check_length(info.num_frames, info.fps)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FacelessFramesWarning)
        result = editor(editor.analyse(path), recipe, keep_audio=True)
    return VideoResult(
        result.save(models.new_output("video-edit", ".mp4"), progress=progress), _faceless_notice(caught)
    )


def dub_uploaded_video(
    models: AppModels,
    video: str | os.PathLike[str] | None,
    speech: str | os.PathLike[str] | None,
    *,
    seed: int = 0,
    temperature: float = 1.0,
    progress: bool = False,
) -> VideoResult:
    """The upload's mouth following `speech` (the audio motion model), everything else its own; the
    output is as long as the speech and carries it."""
    path = _video(models, video)
    if not speech:
        raise InputError("No speech: upload an audio file or record one.")
    pipeline = models.dub_pipeline()
    samples, rate = load_audio(speech)
    fps = probe_video(path).fps
    if len(samples) / rate * fps > models.limits.max_frames:
        raise InputError(
            f"the speech is {len(samples) / rate:.1f} s long; this app renders at most "
            f"{models.limits.max_frames / fps:.1f} s"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FacelessFramesWarning)
        result = pipeline(path, speech, seed=int(seed), temperature=float(temperature))
    return VideoResult(
        result.save(models.new_output("dub", ".mp4"), progress=progress), _faceless_notice(caught)
    )


__all__ = ["VideoResult", "dub_uploaded_video", "edit_uploaded_video", "parse_exp_text"]
