"""Dub a video to new speech, or give it the lips of another take; edit a whole video.

    >>> import pirender
    >>> pirender.dub("interview.mp4", "new_line.wav", output="dubbed.mp4")
    >>> pirender.dub("take1.mp4", mouth_from="take2.mp4", output="take1_lips2.mp4")
    >>> pirender.edit_video("interview.mp4", exp={"smile": "0@0s,1@1s"}, output="smile.mp4")

Dubbing is a video edit (pipelines.video_edit) whose mouth-group coefficients come from elsewhere:
- from speech: the audio motion model (pirender.audio, the normalizing flow) samples a motion for the
  audio and only its mouth columns are used; head pose, eyes, brows and the rest stay the video's own.
  Where the speech is silent (frame RMS more than SILENCE_DB below the clip's loudest frame) the mouth
  is closed: the sampled mouth is faded to the neutral (0) over a few frames.
- from another take (`mouth_from`, a video or a motion file): its own mouth coefficients, frame by
  frame, and its audio track when it has one.

The new mouth decides the output's length: a longer track plays the video forward and backward
(ping-pong, no jump at the turn), a shorter one cuts it. The output carries the new audio.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from pirender.engine.options import RuntimeOptions
from pirender.errors import InputError
from pirender.motion.coeffs import COEFF_DIM
from pirender.motion.sequence import Motion
from pirender.pipelines.front_door import ModelArgs, open_pipeline, write_result
from pirender.pipelines.keep_unchanged import ChangeMaskConfig
from pirender.pipelines.models import ExtractorSpec, open_motion_model
from pirender.pipelines.output import VIDEO_OUTPUTS, AudioLike, RenderedVideo, check_output_path
from pirender.pipelines.source import VideoCrop
from pirender.pipelines.video_edit import VideoAnalysis, VideoEditPipeline
from pirender.pipelines.video_edits import VideoEdit, build_video_edit, expression_space, group_columns

if TYPE_CHECKING:
    from typing_extensions import Unpack

SILENCE_DB = 35.0  # a frame this far below the loudest frame is silence
SILENCE_FADE_FRAMES = 2.0  # Gaussian sigma (frames) of the mouth's close/open fade at silence
AudioInput = str | os.PathLike[str] | tuple[np.ndarray, int]


def dub_order(video_frames: int, num_frames: int) -> np.ndarray:
    """(num_frames,) video frame per output frame: cut when shorter, ping-pong when longer."""
    from pirender.audio.generate import mirror_loop

    if num_frames <= video_frames:
        return np.arange(num_frames)
    return mirror_loop(video_frames, num_frames)


def speech_gate(samples: np.ndarray, rate: int, fps: float, num_frames: int) -> np.ndarray:
    """(num_frames,) in [0, 1]: 0 where the speech is silent, 1 where it is voiced, smoothly faded."""
    hop = rate / fps
    rms = np.zeros(num_frames, dtype=np.float64)
    for t in range(num_frames):
        a, b = int(round(t * hop)), int(round((t + 1) * hop))
        window = samples[a:b]
        rms[t] = np.sqrt(np.mean(window.astype(np.float64) ** 2)) if window.size else 0.0
    db = 20 * np.log10(np.maximum(rms, 1e-9))
    voiced = (db > db.max() - SILENCE_DB).astype(np.float32)
    return np.clip(ndimage.gaussian_filter1d(voiced, SILENCE_FADE_FRAMES, mode="nearest"), 0.0, 1.0)


def mouth_from_speech(
    motion_model: Any,
    samples: np.ndarray,
    rate: int,
    fps: float,
    *,
    space: str = "synthhead",
    seed: int = 0,
    temperature: float = 1.0,
) -> np.ndarray:
    """(T, 73) motion for the speech whose mouth-group columns are the sampled mouth, closed on silence
    (other columns are 0 and unused). T = round(duration * fps)."""
    from pirender.audio.generate import generate_motion

    motion70 = generate_motion(
        motion_model, samples, rate, fps, num_samples=1, temperature=temperature, seed=seed
    )[0]
    if len(motion70) == 0:
        raise InputError("the speech is too short for a single video frame")
    mouth = np.zeros((len(motion70), COEFF_DIM), dtype=np.float32)
    columns = group_columns("mouth", space)
    gate = speech_gate(samples, rate, fps, len(motion70))[:, None]
    mouth[:, columns] = motion70[:, columns] * gate
    return mouth


def _load_speech(audio: AudioInput) -> tuple[np.ndarray, int]:
    from pirender.pipelines.speak import _load_speech as load

    return load(audio)


class DubPipeline:
    """A VideoEditPipeline plus the audio motion model. Build with `from_pretrained`."""

    def __init__(self, editor: VideoEditPipeline, motion_model: Any = None) -> None:
        self.editor = editor
        self.motion_model = motion_model

    @classmethod
    def from_pretrained(
        cls,
        renderer: Any = None,
        motion_model: Any = None,
        *,
        options: RuntimeOptions | None = None,
        extractor: ExtractorSpec | None = None,
        size: int | None = None,
        need_audio_model: bool = True,
    ) -> DubPipeline:
        if need_audio_model:
            motion_model = open_motion_model(motion_model)
        editor = VideoEditPipeline.from_pretrained(renderer, options=options, extractor=extractor, size=size)
        return cls(editor, motion_model)

    @property
    def space(self) -> str:
        return expression_space(self.editor.extractor)

    def __call__(
        self,
        video: str | os.PathLike[str] | VideoAnalysis,
        audio: AudioInput | None = None,
        *,
        mouth_from: str | os.PathLike[str] | Motion | None = None,
        edit: VideoEdit | None = None,
        seed: int = 0,
        temperature: float = 1.0,
        crop: VideoCrop = "auto",
    ) -> RenderedVideo:
        """Dub `video` to `audio` (speech), or give it the mouth of `mouth_from` (exactly one of them).

        Args:
            video: the video (or its analysis, to dub it several times).
            audio: speech file or (samples, rate); the output's length and audio.
            mouth_from: another take (video: its mouth is extracted; motion file or Motion): its mouth,
                its length and (when it has one) its audio.
            edit: further edits on top (e.g. a smile); its mouth group is the new mouth.
            seed, temperature: the audio model's sampling (same seed, same mouth).
        """
        if (audio is None) == (mouth_from is None):
            raise InputError("dub needs exactly one of --audio SPEECH or --mouth-from VIDEO|MOTION")
        analysis = video if isinstance(video, VideoAnalysis) else self.editor.analyse(video, crop=crop)
        fps = analysis.fps
        track: AudioLike
        if audio is not None:
            if self.motion_model is None:
                raise InputError("dubbing from speech needs the audio motion model")
            samples, rate = _load_speech(audio)
            mouth = mouth_from_speech(
                self.motion_model, samples, rate, fps, space=self.space, seed=seed, temperature=temperature
            )
            track = audio if isinstance(audio, str | os.PathLike) else (samples, rate)
        else:
            mouth, track = self._take(mouth_from, fps, crop)
        order = dub_order(analysis.num_frames, len(mouth))
        return self.editor(analysis, edit, order=order, mouth=mouth, audio=track, keep_audio=False)

    def _take(
        self, take: str | os.PathLike[str] | Motion, fps: float, crop: VideoCrop
    ) -> tuple[np.ndarray, AudioLike]:
        """Another take's (T, 73) coefficients at `fps` and its audio (None when it has none)."""
        from pirender.audio.generate import resample_frames
        from pirender.media.video import is_video_path

        if isinstance(take, Motion):
            motion = take
        elif is_video_path(take):
            other = self.editor.analyse(take, crop=crop)
            motion = Motion(other.coeffs, other.fps, audio_path=str(take) if other.has_audio else None)
        else:
            from pirender.motion.formats import load_motion

            path = Path(take)
            if not path.exists():
                raise InputError(f"mouth take not found: {path}")
            motion = load_motion(path)
        coeffs = np.asarray(motion.coeffs, dtype=np.float32)
        if motion.fps != fps:
            frames = max(1, int(round(len(coeffs) / motion.fps * fps)))
            coeffs = resample_frames(coeffs[None], motion.fps, fps, frames)[0]
        audio = motion.audio_path if motion.audio_path and Path(motion.audio_path).is_file() else None
        return coeffs, audio


def edit_video(
    video: str | os.PathLike[str],
    *,
    output: str | os.PathLike[str] | None = None,
    exp: dict[str | int, float | str] | list[str] | None = None,
    yaw: float | str | None = None,
    pitch: float | str | None = None,
    roll: float | str | None = None,
    preset: str | None = None,
    preset_strength: float | str = 1.0,
    pose_scale: float = 1.0,
    pose_still: bool = False,
    hold: list[str] | tuple[str, ...] = (),
    mouth_from: str | os.PathLike[str] | Motion | None = None,
    keep_audio: bool = True,
    crop: VideoCrop = "auto",
    mask: ChangeMaskConfig | None = None,
    progress: bool = False,
    **models: Unpack[ModelArgs],
) -> RenderedVideo | Path:
    """Edit every frame of a video (the Python face of `pirender edit --source VIDEO`).

    Expression values (`exp`, e.g. {"smile": 0.8} or {"smile": "0@0s,1@2s,1@5s,0@6s"}) and pose values
    (yaw/pitch/roll degrees) are offsets from each frame's own, constant or keyframed; `preset` blends
    towards a preset with a (keyframed) strength; `pose_scale` damps the head motion; `pose_still` holds
    frame 0's pose; `hold` holds groups (mouth, eyes, expression, pose) at frame 0; `mouth_from` takes
    the mouth of another take (the length and audio stay this video's; see `dub` for the other way).

    Returns:
        With `output`: its path (.mp4, streamed and written atomically). Without: a lazy RenderedVideo.
    """
    if output is not None:
        check_output_path(output, VIDEO_OUTPUTS, inputs=(video, mouth_from))
    space = expression_space(models.get("extractor"))
    recipe = build_video_edit(
        exp=exp, yaw=yaw, pitch=pitch, roll=roll, preset=preset, preset_strength=preset_strength,
        pose_scale=pose_scale, pose_still=pose_still, hold=hold, space=space,
    )  # fmt: skip
    if mouth_from is None and Path(video).is_file():  # a keyframe past the end fails before any model loads
        from pirender.media.video import is_video_path, probe_video

        if is_video_path(video):
            info = probe_video(video)
            recipe.check_length(info.num_frames, info.fps)
    dubber = open_pipeline(DubPipeline, "edit_video", models, need_audio_model=False)
    editor = dubber.editor
    if mask is not None:
        editor.mask = mask
    analysis = editor.analyse(video, crop=crop)
    mouth = None
    if mouth_from is not None:
        take, _ = dubber._take(mouth_from, analysis.fps, crop)
        mouth = take[dub_order(len(take), analysis.num_frames)]
    result = editor(analysis, recipe, mouth=mouth, keep_audio=keep_audio)
    return write_result(result, output, progress=progress)


def dub(
    video: str | os.PathLike[str],
    audio: AudioInput | None = None,
    *,
    output: str | os.PathLike[str] | None = None,
    mouth_from: str | os.PathLike[str] | Motion | None = None,
    exp: dict[str | int, float | str] | list[str] | None = None,
    pose_scale: float = 1.0,
    pose_still: bool = False,
    seed: int = 0,
    temperature: float = 1.0,
    crop: VideoCrop = "auto",
    motion_model: Any = None,
    progress: bool = False,
    **models: Unpack[ModelArgs],
) -> RenderedVideo | Path:
    """Dub a video to new speech (`audio`) or to another take's mouth (`mouth_from`); the Python face of
    `pirender dub`. `exp`, `pose_scale`, `pose_still` edit the rest on top, as in `edit_video`.

    Returns:
        With `output`: its path (.mp4 with the new audio, written atomically). Without: a lazy RenderedVideo.
    """
    if (audio is None) == (mouth_from is None):
        raise InputError("dub needs exactly one of --audio SPEECH or --mouth-from VIDEO|MOTION")
    if output is not None:
        check_output_path(output, VIDEO_OUTPUTS, inputs=(video, audio, mouth_from))
    space = expression_space(models.get("extractor"))
    recipe = build_video_edit(exp=exp, pose_scale=pose_scale, pose_still=pose_still, space=space)
    pipeline = open_pipeline(
        DubPipeline, "dub", models, motion_model=motion_model, need_audio_model=audio is not None
    )
    result = pipeline(
        video, audio, mouth_from=mouth_from, edit=recipe, seed=seed, temperature=temperature, crop=crop
    )
    return write_result(result, output, progress=progress)


__all__ = ["DubPipeline", "dub", "dub_order", "edit_video", "mouth_from_speech", "speech_gate"]
