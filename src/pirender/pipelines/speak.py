"""Audio-driven reenactment (paper Sec. 4.4): a portrait speaks a recording.

    >>> import pirender
    >>> pirender.speak("face.png", "speech.wav", output="talk.mp4", samples=3, seed=1)

The official repository never released this application (spec section 5). Here a normalizing-flow
audio model (`pirender.audio`) samples K plausible motions [exp | angle | trans] for the speech; the
crop values (s, tx, ty) are the source's own, so the head stays framed as in the portrait. With
`pose_from`, a reference head motion (video or motion file) replaces the sampled pose and only the
expression follows the audio. Every sample is rendered and muxed with the speech: K panels side by
side in one video, or K separate videos.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pirender.engine.options import RuntimeOptions
from pirender.errors import InputError
from pirender.motion.coeffs import CROP, with_crop
from pirender.pipelines.base import RendererPipeline
from pirender.pipelines.front_door import (
    JobKeywords,
    open_pipeline,
    separate_paths,
    write_result,
)
from pirender.pipelines.models import ExtractorSpec, open_motion_model
from pirender.pipelines.output import VIDEO_OUTPUTS, RenderedVideo, check_output_path, hstack
from pirender.pipelines.render import render_coeffs
from pirender.pipelines.source import (
    CoeffsLike,
    DrivingLike,
    ImageLike,
    SourceCrop,
    load_driving,
    prepare_source,
    source_coefficients,
)

DEFAULT_FPS = 25.0
AudioInput = str | os.PathLike[str] | tuple[np.ndarray, int]


@dataclass
class SpeakPipeline:
    """Speech -> K sampled motions -> rendered videos with the speech muxed in.

    Holds what a RendererPipeline holds, loaded the same way, plus the audio-to-motion model. Not a
    subclass: the model is the second field (`SpeakPipeline(engine, motion_model)`), and a subclass's
    fields would come after the inherited ones.
    """

    engine: Any  # pirender.engine.RenderEngine
    motion_model: Any  # pirender.audio.MotionFlow
    image_size: int = 256
    extractor: ExtractorSpec | None = None
    device: str = "cpu"
    synthetic_only: bool = False  # the bundled SynthHead-only renderer (RendererPipeline.note_source)

    note_source = RendererPipeline.note_source

    @classmethod
    def from_pretrained(
        cls,
        renderer: Any = None,
        motion_model: Any = None,
        *,
        options: RuntimeOptions | None = None,
        extractor: ExtractorSpec | None = None,
        size: int | None = None,
    ) -> SpeakPipeline:
        """Load the renderer and the audio model (paths; None = the shipped ones; or loaded objects)."""
        motion_model = open_motion_model(motion_model)
        loaded = RendererPipeline.from_pretrained(renderer, options=options, extractor=extractor, size=size)
        return cls(loaded.engine, motion_model, loaded.image_size, loaded.extractor, loaded.device,
                   loaded.synthetic_only)  # fmt: skip

    def __call__(
        self,
        source: ImageLike,
        audio: AudioInput,
        *,
        samples: int = 1,
        temperature: float = 1.0,
        seed: int = 0,
        pose_from: DrivingLike | None = None,
        separate: bool = False,
        fps: float = DEFAULT_FPS,
        source_coeffs: CoeffsLike = None,
        crop: SourceCrop = "auto",
        paste_back: bool = True,
    ) -> RenderedVideo | list[RenderedVideo]:
        """Make the source say `audio`.

        Args:
            source: portrait image, video (first frame) or (H, W, 3) uint8 array.
            audio: speech file (any format pirender.media.audio reads, or a video's track) or
                (samples (N,), sample_rate).
            samples: K motions sampled for the same speech.
            temperature: latent noise scale (1 = the learnt distribution, 0 = the most likely path).
            seed: sampling seed (same seed, same motion).
            pose_from: reference head motion (video, motion file, Motion or (T, 73) array): its pose
                replaces the sampled one, looped back and forth to the speech's length.
            separate: K videos instead of one with K panels side by side.
            fps: output frame rate.
            source_coeffs, crop, paste_back: as for reenactment.
        Returns:
            One RenderedVideo (K panels), or K of them with `separate`; T = round(duration * fps).
        """
        if samples < 1:
            raise InputError(f"the number of samples must be >= 1, got {samples}")
        if not fps > 0:
            raise InputError(f"fps must be positive, got {fps}")
        # 1. Prepare the source: read it, cut the face crop the renderer sees.
        prepared = prepare_source(source, size=self.image_size, crop=crop)
        self.note_source(prepared)
        # 2. Load the speech as 16 kHz mono samples.
        speech, rate = _load_speech(audio)
        # 3. The source's own coefficients: its crop values frame every sampled motion.
        own = source_coefficients(prepared, source_coeffs, extractor=self.extractor, device=self.device)
        # 4. The reference head motion, if any.
        pose = None
        if pose_from is not None:
            pose = load_driving(
                pose_from, source=source, extractor=self.extractor, device=self.device
            ).motion.coeffs
        # 5. Sample K motions for the speech: (K, T, 70) + the source's crop -> (K, T, 73).
        from pirender.audio.generate import generate_motion

        motion70 = generate_motion(
            self.motion_model,
            speech,
            rate,
            fps,
            num_samples=samples,
            temperature=temperature,
            seed=seed,
            pose_motion=pose,
        )
        if motion70.shape[1] == 0:
            raise InputError("the speech is too short for a single video frame")
        motions = [with_crop(m, own[CROP]) for m in motion70]
        # 6. Lazily rendered video(s) with the speech muxed in.
        audio_track = audio if isinstance(audio, str | os.PathLike) else (speech, rate)
        engine, tensor = self.engine, prepared.tensor
        height, width = prepared.output_shape(paste_back=paste_back)

        def frames(coeffs: list[np.ndarray]) -> Iterator[np.ndarray]:
            streams = [
                render_coeffs(engine, tensor, c, windows="temporal", source_coeffs=own) for c in coeffs
            ]
            for rendered in zip(*streams, strict=True):
                yield hstack([prepared.paste(r, paste_back=paste_back) for r in rendered])

        num_frames = motions[0].shape[0]
        if separate:
            return [
                RenderedVideo(lambda c=c: frames([c]), num_frames, fps, (width, height), audio_track)
                for c in motions
            ]
        return RenderedVideo(
            lambda: frames(motions), num_frames, fps, (width * len(motions), height), audio_track
        )


def _load_speech(audio: AudioInput) -> tuple[np.ndarray, int]:
    from pirender.media.audio import SAMPLE_RATE, load_audio, resample

    if isinstance(audio, tuple):
        samples, rate = audio
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1 or samples.size == 0 or not np.all(np.isfinite(samples)):
            raise InputError(
                f"audio samples must be a non-empty finite (N,) array, got shape {samples.shape}"
            )
        return resample(samples, int(rate), SAMPLE_RATE), SAMPLE_RATE
    return load_audio(audio)


SPEAK = JobKeywords(SpeakPipeline.__call__)


@SPEAK.shown
def speak(
    source: ImageLike,
    audio: AudioInput,
    *,
    motion_model: Any = None,
    output: str | os.PathLike[str] | None = None,
    progress: bool = False,
    **keywords: Any,
) -> RenderedVideo | list[RenderedVideo] | Path | list[Path]:
    """Make a portrait speak (the Python face of `pirender speak`).

    Keywords: those of `SpeakPipeline.__call__` (samples, temperature, seed, pose_from, separate, fps,
    source_coeffs, crop, paste_back; same names and defaults), the audio motion model (`motion_model`:
    a path, None = the shipped one, or a MotionFlow), `progress` (a bar while saving) and the model
    and runtime keywords of every front-door function (pipelines.front_door.ModelArgs).

    Returns:
        With `output`: the written path (or K paths out_0.mp4 .. with `separate`). Without: lazy video(s).
    """
    job, models = SPEAK.split(keywords)
    if output is not None:
        inputs = (source, audio, job["pose_from"], job["source_coeffs"])
        for path in separate_paths(output, job["samples"] if job["separate"] else 1):
            check_output_path(path, VIDEO_OUTPUTS, inputs=inputs)
    pipeline = open_pipeline(SpeakPipeline, "speak", models, motion_model=motion_model)
    return write_result(pipeline(source, audio, **job), output, progress=progress)


__all__ = ["SpeakPipeline", "speak"]
