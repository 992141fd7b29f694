"""What the web app's buttons do, as plain functions over the pipelines (no gradio, no model code).

The app (`ui/app.py`) only lays out widgets and calls these; tests call them directly. Every user
mistake surfaces as a `PirenderError` with a one-line message, which the app shows in the page.

The source portrait is prepared once, when it is uploaded or picked, into a `Portrait`: the full
image, the face crop the renderer sees, where that crop sits in the image and the face's own (73,)
coefficients. The app keeps it in the session state, so moving a slider costs one renderer forward
pass (`EditPipeline` is called with the cached crop box and coefficients, not asked to find the face
and estimate its coefficients again).
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from pirender.engine.options import RuntimeOptions
from pirender.errors import InputError, one_line
from pirender.motion.coeffs import EXP
from pirender.motion.crop import CropTransform
from pirender.pipelines.dub import DubPipeline
from pirender.pipelines.edit import EditPipeline
from pirender.pipelines.edits import (
    POSE_PARAMS,
    Edit,
    build_edit,
    list_presets,
    parse_exp_assignments,
    parse_sweep,
)
from pirender.pipelines.models import ExtractorSpec
from pirender.pipelines.reenact import ReenactPipeline
from pirender.pipelines.source import (
    ImageLike,
    is_framed,
    prepare_source,
    read_still,
    resize_square,
    source_coefficients,
)
from pirender.pipelines.speak import SpeakPipeline
from pirender.pipelines.video_edit import VideoEditPipeline

CropChoice = Literal["auto", "face", "whole"]
CROP_CHOICES: dict[str, str] = {
    "auto": "auto: square images are face crops, other photos are cropped around the face",
    "face": "always find the face",
    "whole": "centre square, no face detection",
}
DEMO_SIZE = 256  # demo identities are rendered at the reference resolution their crop values assume
POSE_NAMES: tuple[str, ...] = ("yaw", "pitch", "roll", "tx", "ty", "tz")
# Slider ranges: degrees for the angles, 3DMM units for the translation (SynthHead's motion spans
# about +-0.2 rad yaw and a few hundredths of translation; these leave room to exaggerate).
POSE_RANGES: dict[str, tuple[float, float, float]] = {  # name -> (min, max, step)
    "yaw": (-45.0, 45.0, 0.5),
    "pitch": (-30.0, 30.0, 0.5),
    "roll": (-30.0, 30.0, 0.5),
    "tx": (-0.3, 0.3, 0.005),
    "ty": (-0.3, 0.3, 0.005),
    "tz": (-0.6, 0.6, 0.01),
}
SWEEP_PARAMS: tuple[str, ...] = POSE_NAMES  # plus the expression controls (see sweep_params())


@dataclass(frozen=True)
class Limits:
    """What one request may cost: uploads are capped by the server (max_file_size), these cap the work."""

    max_frames: int = 1500  # frames of a reenactment or speech video (60 s at 25 fps)
    max_sweep_steps: int = 120
    max_samples: int = 4  # speech motions sampled per request
    max_pixels: int = 4096 * 4096  # source image area


@dataclass
class AppModels:
    """The pipelines the app composes, loaded on first use and shared by every session.

    Attributes:
        renderer: model directory / official checkpoint; None = the shipped SynthHead renderer.
        motion_model: audio-to-motion model directory; None = the shipped one.
        extractor: coefficient estimator for uploads and driving videos; None = the SynthHead one.
        options: device, precision, backend, batch size.
        size: renderer image side; None = from the model directory.
        output_dir: where rendered files are written (default: a private temporary directory, removed at
            exit, whose files older than an hour are pruned).
    """

    renderer: str | os.PathLike[str] | None = None
    motion_model: str | os.PathLike[str] | None = None
    extractor: ExtractorSpec | None = None
    options: RuntimeOptions = field(default_factory=RuntimeOptions)
    size: int | None = None
    output_dir: Path | None = None
    limits: Limits = field(default_factory=Limits)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _edit: EditPipeline | None = field(default=None, init=False, repr=False)
    _reenact: ReenactPipeline | None = field(default=None, init=False, repr=False)
    _speak: SpeakPipeline | None = field(default=None, init=False, repr=False)
    _dub: DubPipeline | None = field(default=None, init=False, repr=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False, repr=False)

    def edit_pipeline(self) -> EditPipeline:
        with self._lock:
            if self._edit is None:
                self._edit = EditPipeline.from_pretrained(
                    self.renderer, options=self.options, extractor=self.extractor, size=self.size
                )
            return self._edit

    def reenact_pipeline(self) -> ReenactPipeline:
        edit = self.edit_pipeline()
        with self._lock:
            if self._reenact is None:  # the same engine: one renderer in memory
                self._reenact = ReenactPipeline(edit.engine, edit.image_size, self.extractor, edit.device)
            return self._reenact

    def speak_pipeline(self) -> SpeakPipeline:
        edit = self.edit_pipeline()
        with self._lock:
            if self._speak is None:
                self._speak = SpeakPipeline.from_pretrained(
                    edit.engine,
                    self.motion_model,
                    options=self.options,
                    extractor=self.extractor,
                    size=edit.image_size,
                )
            return self._speak

    def dub_pipeline(self) -> DubPipeline:
        """Video edit and dub (the Video tab), on the same engine and audio motion model."""
        speak = self.speak_pipeline()
        edit = self.edit_pipeline()  # before taking the lock: it is not re-entrant
        with self._lock:
            if self._dub is None:
                editor = VideoEditPipeline(
                    edit.engine,
                    edit.image_size,
                    self.extractor,
                    edit.device,
                    synthetic_only=edit.synthetic_only,
                )
                self._dub = DubPipeline(editor, speak.motion_model)
            return self._dub

    @property
    def image_size(self) -> int:
        return self.edit_pipeline().image_size

    def new_output(self, stem: str, suffix: str) -> Path:
        """A fresh file name in the output directory (files older than an hour are removed)."""
        with self._lock:
            if self.output_dir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="pirender-ui-")
                self.output_dir = Path(self._tmp.name)
            self.output_dir.mkdir(parents=True, exist_ok=True)
            if self._tmp is not None:  # only prune a directory this app owns
                _remove_old_files(self.output_dir, max_age_s=3600.0)
            return self.output_dir / f"{stem}-{uuid.uuid4().hex[:10]}{suffix}"


def _remove_old_files(directory: Path, *, max_age_s: float) -> None:
    now = time.time()
    for path in directory.iterdir():
        try:
            if path.is_file() and now - path.stat().st_mtime > max_age_s:
                path.unlink()
        except OSError:  # another session removed it first
            pass


# -- the source portrait ---------------------------------------------------------------------------


@dataclass
class Portrait:
    """A prepared source portrait (kept in the session state)."""

    image: np.ndarray  # (H, W, 3) uint8, the full picture
    crop: np.ndarray  # (S, S, 3) uint8, what the renderer sees
    transform: CropTransform | None  # where `crop` sits in `image`; None: the image is the crop
    coeffs: np.ndarray  # (73,) float32, the face's own coefficients
    name: str = "source"
    notice: str = ""  # shown under the source (e.g. "no face found: centre crop")

    @property
    def crop_arg(self) -> CropTransform | Literal["never"]:
        """How to hand the cached crop to a pipeline: the box, or "never" (the image is the crop)."""
        return "never" if self.transform is None else self.transform


def load_portrait(
    models: AppModels, source: ImageLike, *, crop: CropChoice = "auto", name: str | None = None
) -> Portrait:
    """Read an uploaded portrait, cut the face crop and estimate its coefficients.

    Crop rules: "auto" follows the pipelines (the largest face is cut out unless the image already is
    its face crop, pipelines/source.py), "face" always cuts out the face, "whole" takes the centre
    square. When no face is found (or face detection is not installed) the centre square is used and
    `Portrait.notice` says so. `name` is how messages call the file (default: its file name).
    """
    from pirender.motion.faces import MultipleFacesWarning

    if crop not in CROP_CHOICES:
        raise InputError(f"crop must be one of {', '.join(CROP_CHOICES)}, got {crop!r}")
    if name is None:
        name = Path(source).name if isinstance(source, str | os.PathLike) else "portrait"
    try:
        image = read_still(source, name="portrait")
    except InputError as e:  # name the file as the user knows it, not by its upload path
        raise InputError(str(e).replace(str(source), name)) from None
    h, w = image.shape[:2]
    if h * w > models.limits.max_pixels:
        raise InputError(f"{name} is {w}x{h}; at most {models.limits.max_pixels:,} pixels are accepted")
    size = models.image_size
    notice = ""
    if crop == "whole":
        transform = None if h == w else centre_crop(w, h, size)
        prepared = prepare_source(
            image, size=size, crop="never" if transform is None else transform, name=name
        )
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                prepared = prepare_source(image, size=size, crop="always", name=name)
                if crop == "auto" and prepared.transform is not None and is_framed(prepared.transform):
                    prepared = prepare_source(image, size=size, crop="never", name=name)  # a face crop
            except InputError as e:
                prepared = prepare_source(image, size=size, crop=centre_crop(w, h, size), name=name)
                reason = one_line(e).removeprefix(f"{name}: ")
                notice = f"{reason}: using the centre square of the image instead."
        several = [one_line(str(w.message)) for w in caught if issubclass(w.category, MultipleFacesWarning)]
        notice = " ".join([*several, notice]).strip()
    pipeline = models.edit_pipeline()
    coeffs = source_coefficients(prepared, extractor=pipeline.extractor, device=pipeline.device)
    return Portrait(image, prepared.crop, prepared.transform, coeffs, name, notice)


def centre_crop(width: int, height: int, size: int) -> CropTransform:
    """The largest centred square of a (width, height) image, resized to size."""
    return CropTransform(width / 2.0, height / 2.0, float(min(width, height)), size, width, height)


def demo_portrait(models: AppModels, seed: int) -> Portrait:
    """A SynthHead demo identity at rest: its coefficients are known exactly (no estimation)."""
    from pirender.synth import Identity, SynthHead, neutral_coeffs

    if not 0 <= seed < 2**31:
        raise InputError(f"demo identity seed must be in 0..{2**31 - 1}, got {seed}")
    coeffs = neutral_coeffs()
    image = SynthHead(Identity.from_seed(int(seed)), DEMO_SIZE).render(coeffs)
    crop = resize_square(image, models.image_size)
    return Portrait(image, crop, None, coeffs, f"SynthHead #{seed}")


# -- edit ------------------------------------------------------------------------------------------


def expression_controls() -> dict[str, tuple[int, float, float]]:
    """Named expression control -> (slot, min, max): SynthHead's controls (the shipped renderer's basis)."""
    from pirender.synth.expression import CONTROL_RANGES, EXPRESSION_CONTROLS

    return {name: (slot, *CONTROL_RANGES[name]) for name, slot in EXPRESSION_CONTROLS.items()}


def preset_names() -> list[str]:
    return list(list_presets())


def sweep_params() -> list[str]:
    return [*SWEEP_PARAMS, *expression_controls()]


@dataclass(frozen=True)
class EditValues:
    """What the Edit tab's widgets say: absolute pose, named expression values, raw slots, a preset."""

    pose: Mapping[str, float] = field(default_factory=dict)  # yaw/pitch/roll degrees, tx/ty/tz
    controls: Mapping[str, float] = field(default_factory=dict)  # named control -> value
    raw: str = ""  # "5=0.8, 12=-0.3": expression slots by index, applied last
    preset: str | None = None
    preset_strength: float = 1.0
    keep_unchanged: bool = False  # the source's own pixels wherever the edit changes nothing

    def to_edit(self) -> Edit:
        """The pipeline's recipe. The preset is blended first, then the named controls and raw slots
        are set (so the sliders, which show the blended values, stay in charge)."""
        exp = [f"{name}={value}" for name, value in self.controls.items()]
        exp += [f"{slot}={value}" for slot, value in parse_raw(self.raw)]
        return build_edit(
            **{name: float(self.pose[name]) for name in POSE_NAMES if name in self.pose},
            exp=exp,
            preset=self.preset or None,
            preset_strength=float(self.preset_strength),
        )


def parse_raw(text: str) -> tuple[tuple[int, float], ...]:
    """ "5=0.8, 12=-0.3" (commas, spaces or new lines between) -> ((5, 0.8), (12, -0.3))."""
    items = [item for item in text.replace(",", " ").split() if item]
    try:
        return parse_exp_assignments(items)
    except InputError as e:
        raise InputError(f"raw coefficients: {one_line(e).removeprefix('--exp ')}") from None


def own_values(portrait: Portrait) -> EditValues:
    """The slider positions that reproduce the portrait: its own pose and expression."""
    return EditValues(pose=_pose_of(portrait.coeffs), controls=_controls_of(portrait.coeffs))


def preset_values(portrait: Portrait, preset: str | None, strength: float) -> EditValues:
    """Slider positions after choosing a preset: the portrait's expression blended towards it."""
    edit = build_edit(preset=preset or None, preset_strength=float(strength))
    return EditValues(
        pose=_pose_of(portrait.coeffs),
        controls=_controls_of(edit.apply(portrait.coeffs)),
        preset=preset or None,
        preset_strength=float(strength),
    )


def _pose_of(coeffs: np.ndarray) -> dict[str, float]:
    values = {}
    for name in POSE_NAMES:
        column, unit = POSE_PARAMS[name]
        low, high, step = POSE_RANGES[name]
        values[name] = _snap(float(coeffs[column]) / unit, low, high, step)
    return values


def _controls_of(coeffs: np.ndarray) -> dict[str, float]:
    exp = np.asarray(coeffs)[EXP]
    return {
        name: _snap(float(exp[slot]), lo, hi, 0.01) for name, (slot, lo, hi) in expression_controls().items()
    }


def _snap(value: float, low: float, high: float, step: float) -> float:
    """Clip to a slider's range and round to its step (so the slider shows the value it will send)."""
    value = min(max(value, low), high)
    decimals = max(0, -math.floor(math.log10(step))) + 1
    return round(round(value / step) * step, decimals)


def render_edit(models: AppModels, portrait: Portrait, values: EditValues) -> np.ndarray:
    """One edited frame, (H, W, 3) uint8: a forward pass on the cached crop and coefficients (two with
    `keep_unchanged`: the reconstruction too)."""
    edit = values.to_edit()
    image = models.edit_pipeline()(
        portrait.image,
        edit,
        source_coeffs=portrait.coeffs,
        crop=portrait.crop_arg,
        keep_unchanged=values.keep_unchanged,
    )
    assert isinstance(image, np.ndarray)
    return image


def save_png(models: AppModels, image: np.ndarray, stem: str = "edit") -> Path:
    from pirender.media.image import save_image

    path = models.new_output(stem, ".png")
    save_image(path, image)
    return path


def render_sweep(
    models: AppModels,
    portrait: Portrait,
    values: EditValues,
    *,
    param: str,
    start: float,
    end: float,
    steps: int,
    fps: float = 25.0,
    progress: bool = False,
) -> Path:
    """An MP4 of `param` swept from start to end (on top of the current edit), there and back."""
    steps = int(steps)
    if not 2 <= steps <= models.limits.max_sweep_steps:
        raise InputError(f"sweep steps must be in 2..{models.limits.max_sweep_steps}, got {steps}")
    if param not in sweep_params():
        raise InputError(f"cannot sweep {param!r}; choose one of {', '.join(sweep_params())}")
    there = parse_sweep(f"{param}:{start}:{end}:{steps}")
    back = parse_sweep(f"{param}:{end}:{start}:{steps}")
    video = models.edit_pipeline()(
        portrait.image,
        values.to_edit(),
        sweep=[there, back],
        fps=fps,
        source_coeffs=portrait.coeffs,
        crop=portrait.crop_arg,
        keep_unchanged=values.keep_unchanged,
    )
    assert not isinstance(video, np.ndarray)
    return video.save(models.new_output(f"sweep-{param}", ".mp4"), progress=progress)


# -- reenact and speak -----------------------------------------------------------------------------

MOTION_CHOICES: tuple[str, ...] = ("relative", "absolute")


def reenact_video(
    models: AppModels,
    portrait: Portrait,
    driving: str | os.PathLike[str],
    *,
    motion: str = "relative",
    side_by_side: bool = False,
    progress: bool = False,
) -> Path:
    """The portrait performing a driving video or motion file, with the driving audio (if any)."""
    if motion not in MOTION_CHOICES:
        raise InputError(f"motion must be relative or absolute, got {motion!r}")
    video = models.reenact_pipeline()(
        portrait.image,
        driving,
        motion=motion,  # type: ignore[arg-type]
        source_coeffs=portrait.coeffs,
        crop=portrait.crop_arg,
        layout="side-by-side" if side_by_side else "result",
    )
    _check_length(models, len(video), "driving motion")
    return video.save(models.new_output("reenact", ".mp4"), progress=progress)


def speak_videos(
    models: AppModels,
    portrait: Portrait,
    audio: str | os.PathLike[str],
    *,
    samples: int = 1,
    temperature: float = 1.0,
    seed: int = 0,
    progress: bool = False,
) -> list[Path]:
    """One video per sampled motion of the portrait saying `audio`, each with the speech."""
    samples = int(samples)
    if not 1 <= samples <= models.limits.max_samples:
        raise InputError(f"number of samples must be in 1..{models.limits.max_samples}, got {samples}")
    if not (math.isfinite(temperature) and 0.0 <= temperature <= 2.0):
        raise InputError(f"temperature must be in 0..2, got {temperature}")
    videos = models.speak_pipeline()(
        portrait.image,
        audio,
        samples=samples,
        temperature=float(temperature),
        seed=int(seed),
        separate=True,
        source_coeffs=portrait.coeffs,
        crop=portrait.crop_arg,
    )
    assert isinstance(videos, list)
    _check_length(models, len(videos[0]), "speech")
    return [
        video.save(models.new_output(f"speak-{k}", ".mp4"), progress=progress)
        for k, video in enumerate(videos)
    ]


def _check_length(models: AppModels, frames: int, what: str) -> None:
    if frames > models.limits.max_frames:
        raise InputError(
            f"the {what} is {frames} frames long; this app renders at most {models.limits.max_frames}"
        )


__all__: Sequence[str] = [
    "AppModels",
    "EditValues",
    "Limits",
    "Portrait",
    "demo_portrait",
    "load_portrait",
    "own_values",
    "preset_values",
    "reenact_video",
    "render_edit",
    "render_sweep",
    "save_png",
    "speak_videos",
]
