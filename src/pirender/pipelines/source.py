"""Inputs of every pipeline: the source portrait (cropped for the renderer), its coefficients, a driving motion.

Cropping rule (`crop="auto"`): the largest face of every source is found (MediaPipe, the faces
extra) and cut out VoxCeleb-style, to be pasted back after rendering, unless the image already is
such a crop: square, with the face's crop box centred within `FRAMED_OFFSET` of the side and as
large as `FRAMED_SIDE` of it. Those are only resized. (A square phone or profile picture whose face
fills less of it is cropped like any photo; SynthHead renders, framed for the renderer, measure
offsets within 0.09 and sides of 0.68-0.96, a crop of ours 0.00 and 1.00.) Without the faces extra,
a square image is taken as a crop. `crop="always"` crops square photos too, `crop="never"` uses a
square image as it is and refuses others, and a `CropTransform` gives the box explicitly (the UI
lets a user draw it; tests use it). In every mode a source must be at least `MIN_SOURCE_SIDE` pixels
on each side and not a single colour; in "auto", one where no face is found is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from pirender.errors import InputError
from pirender.motion.coeffs import check_coeffs
from pirender.motion.crop import CropInfo, CropTransform
from pirender.motion.faces import FaceSelect
from pirender.motion.sequence import Motion
from pirender.pipelines.models import ExtractorSpec, load_extractor

CropMode = Literal["auto", "always", "never"]
CROP_MODES: tuple[str, ...] = ("auto", "always", "never")
# How a photo source is cropped: a mode, an explicit box, or the face to cut out (FaceSelect)
SourceCrop = CropMode | CropTransform | FaceSelect
VideoCrop = CropMode | FaceSelect  # a video's: a mode, or the face to follow
ImageLike = str | os.PathLike[str] | np.ndarray
PASTE_FEATHER = 0.08  # soft border of the pasted crop, as a fraction of its side
MIN_SOURCE_SIDE = 32  # pixels: a smaller source cannot hold a face the renderer can use
FRAMED_OFFSET = 0.15  # a square image is a face crop when its face's crop box is centred within this
FRAMED_SIDE = (0.6, 1.5)  # share of the side, and its side is this share of the image's


def is_video(path: str | os.PathLike[str]) -> bool:
    from pirender.media.video import is_video_path

    return is_video_path(path)


def read_still(source: ImageLike, *, name: str = "source") -> np.ndarray:
    """(H, W, 3) uint8 RGB from an image file, a video (its first frame) or an array."""
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim != 3 or source.shape[2] != 3 or 0 in source.shape:
            raise InputError(
                f"{name}: expected an (H, W, 3) uint8 RGB array, got {source.shape} {source.dtype}"
            )
        return np.ascontiguousarray(source)
    path = Path(source)
    if not path.exists():
        raise InputError(f"{name} not found: {path}")
    if is_video(path):
        from pirender.media.video import iter_video_frames

        return next(iter(iter_video_frames(path, max_frames=1)))
    from pirender.media.image import load_image

    return load_image(path)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """(h, w, 3) uint8 -> (size, size, 3) uint8, antialiased bicubic (no-op at the right size)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    resized = Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(resized, dtype=np.uint8)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(S, S, 3) uint8 -> (1, 3, S, S) float32 in [-1, 1] (the renderer's convention)."""
    return (
        torch.from_numpy(np.array(image, dtype=np.uint8))
        .permute(2, 0, 1)[None]
        .float()
        .div(127.5)
        .sub(1.0)
        .contiguous()
    )


@dataclass
class PreparedSource:
    """The source portrait, ready for the renderer."""

    image: np.ndarray  # (H, W, 3) uint8 the full source (photo, or a video's first frame)
    crop: np.ndarray  # (S, S, 3) uint8 the face crop the renderer sees
    transform: CropTransform | None  # where `crop` sits in `image`; None: the image is the crop
    name: str = "source"

    @property
    def size(self) -> int:
        return int(self.crop.shape[0])

    @property
    def tensor(self) -> torch.Tensor:
        """(1, 3, S, S) float32 in [-1, 1]."""
        return to_tensor(self.crop)

    def output_shape(self, *, paste_back: bool = True) -> tuple[int, int]:
        """(height, width) of an output frame: the full image when pasting back, else the crop."""
        if self.transform is None or not paste_back:
            return self.size, self.size
        return int(self.image.shape[0]), int(self.image.shape[1])

    def paste(self, rendered: np.ndarray, *, paste_back: bool = True) -> np.ndarray:
        """A rendered (S, S, 3) crop -> the output frame: pasted into the full image with a feathered
        border when the source was cropped (and paste_back), else the crop itself."""
        if self.transform is None or not paste_back:
            return rendered
        return self.transform.paste_back(self.image, rendered, feather=PASTE_FEATHER)


def prepare_source(
    source: ImageLike, *, size: int, crop: SourceCrop = "auto", name: str = "source"
) -> PreparedSource:
    """Load and crop the source portrait (rules in the module docstring).

    Args:
        source: image file, video file (first frame) or (H, W, 3) uint8 array.
        size: the renderer's image side S.
        crop: "auto" | "always" | "never" | an explicit CropTransform of the source image | the
            FaceSelect of the face to cut out (a photo with several faces).
    Returns:
        PreparedSource with an (S, S, 3) crop.
    """
    image = read_still(source, name=name)
    if not isinstance(source, np.ndarray):  # messages about the picture name its file
        name = f"{name} {Path(source).name}"
    h, w = image.shape[:2]
    check_content(image, name=name)
    if isinstance(crop, CropTransform):
        if (crop.source_width, crop.source_height) != (w, h):
            raise InputError(
                f"{name}: the crop box is for a {crop.source_width}x{crop.source_height} image, got {w}x{h}"
            )
        return PreparedSource(image, resize_square(crop.apply(image), size), crop, name)
    if isinstance(crop, FaceSelect):
        from pirender.motion.faces import FaceCropper

        with FaceCropper(size=size) as cropper:
            face, transform = cropper.crop_image(image, name=name, face=crop)
        return PreparedSource(image, face, transform, name)
    if crop not in CROP_MODES:
        raise InputError(f"crop must be one of {', '.join(CROP_MODES)}, got {crop!r}")
    if crop == "never" or (crop == "auto" and h == w and not _faces_available()):
        if h != w:
            raise InputError(
                f"{name}: a {w}x{h} image is not a square face crop; use crop 'auto' to detect the face"
            )
        return PreparedSource(image, resize_square(image, size), None, name)
    from pirender.motion.faces import FaceCropper

    with FaceCropper(size=size) as cropper:
        face, transform = cropper.crop_image(image, name=name)
    if crop == "auto" and is_framed(transform):
        return PreparedSource(image, resize_square(image, size), None, name)
    return PreparedSource(image, face, transform, name)


def check_content(image: np.ndarray, *, name: str) -> None:
    """InputError for a source too small to hold a face or of a single colour."""
    h, w = image.shape[:2]
    if min(h, w) < MIN_SOURCE_SIDE:
        raise InputError(f"{name}: {w}x{h} is too small for a face (at least {MIN_SOURCE_SIDE} px a side)")
    if int(image.max()) - int(image.min()) <= 2:
        raise InputError(f"{name}: the image is a single colour, there is no face in it")


def is_framed(transform: CropTransform) -> bool:
    """Whether a square image already is the crop that `transform` (its face's box) would cut."""
    side = transform.source_width
    if transform.source_height != side:
        return False
    offset = max(abs(transform.center_x - side / 2), abs(transform.center_y - side / 2)) / side
    return offset <= FRAMED_OFFSET and FRAMED_SIDE[0] <= transform.side / side <= FRAMED_SIDE[1]


def _faces_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("mediapipe") is not None


# -- coefficients ----------------------------------------------------------------------------------

CoeffsLike = str | os.PathLike[str] | np.ndarray | Motion | None


def source_coefficients(
    prepared: PreparedSource,
    coeffs: CoeffsLike = None,
    *,
    extractor: ExtractorSpec | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """The source's own (73,) coefficients.

    Args:
        prepared: the source (its crop is what an extractor reads).
        coeffs: given coefficients instead of estimating them: (73,) or (T, 73) array (frame 0),
            a Motion, or a motion file (frame 0; any format `load_motion` reads).
        extractor: which extractor estimates them when `coeffs` is None.
    Returns:
        (73,) float32, validated (finite, crop scale > 0).
    """
    if coeffs is None:
        estimated = load_extractor(extractor, device).extract([prepared.crop])
        return check_coeffs(np.asarray(estimated)[0], name=f"{prepared.name} coefficients", frames=False)
    return first_frame(coeffs, name="source coefficients")


def first_frame(coeffs: str | os.PathLike[str] | np.ndarray | Motion, *, name: str) -> np.ndarray:
    """(73,) frame 0 of an array, a Motion or a motion file, validated."""
    if isinstance(coeffs, Motion):
        array = coeffs.coeffs
    elif isinstance(coeffs, np.ndarray):
        array = coeffs if coeffs.ndim == 2 else np.asarray(coeffs).reshape(1, -1)
    else:
        from pirender.motion.formats import load_motion

        array = load_motion(coeffs).coeffs
    return check_coeffs(array, name=name)[0]


# -- driving motion --------------------------------------------------------------------------------

DrivingLike = str | os.PathLike[str] | np.ndarray | Motion


@dataclass
class Driving:
    """A driving motion and, when it came from a video, how to show that video's frames."""

    motion: Motion
    video: Path | None = None  # the driving video (side-by-side panel, audio)
    crop: CropInfo | None = None  # per-frame crops of `video` (None: its frames are the crops)
    has_audio: bool = False

    def frames(self, size: int) -> Iterator[np.ndarray] | None:
        """(size, size, 3) uint8 driving crops, streamed; None when there is no driving video."""
        if self.video is None:
            return None
        from pirender.media.video import iter_video_frames

        def generate() -> Iterator[np.ndarray]:
            for index, frame in enumerate(iter_video_frames(self.video)):
                if self.crop is not None:
                    frame = self.crop[min(index, len(self.crop) - 1)].apply(frame)
                yield resize_square(frame, size)

        return generate()


def load_driving(
    driving: DrivingLike,
    *,
    source: ImageLike | None = None,
    extractor: ExtractorSpec | None = None,
    device: str = "cpu",
    fps: float | None = None,
    progress: bool = False,
) -> Driving:
    """A driving motion from a motion file, a video (coefficients extracted), a Motion or a (T, 73) array.

    Args:
        source: the source image, for motion formats without crop values (SadTalker).
        fps: frame rate of an array (default 25) or override for files that do not store one.
        progress: bars on stderr while a video's motion is extracted.
    """
    # A Motion holds (T, 73) finite coefficients (checked when it is made); whether they can be
    # rendered (crop scale s > 0) is checked once, where they are turned into the frames' coefficients
    # (pipelines.motion_transfer), so nothing is checked twice on one path.
    if isinstance(driving, Motion):
        return Driving(driving, crop=driving.crop, has_audio=_audio_exists(driving))
    if isinstance(driving, np.ndarray):
        from pirender.motion.coeffs import DEFAULT_FPS

        return Driving(Motion(coeffs=driving, fps=fps or DEFAULT_FPS, source="driving motion"))
    path = Path(driving)
    if not path.exists():
        raise InputError(f"driving motion not found: {path}")
    if is_video(path):
        return _driving_from_video(path, extractor=extractor, device=device, progress=progress)
    from pirender.motion.formats import load_motion

    source_hint = source if isinstance(source, str | os.PathLike) else None
    motion = load_motion(path, source_image=source_hint, fps=fps)
    return Driving(motion, crop=motion.crop, has_audio=_audio_exists(motion))


def _audio_exists(motion: Motion) -> bool:
    """True when the motion names an audio file that is there; a warning when it names a missing one."""
    if motion.audio_path is None:
        return False
    if not Path(motion.audio_path).is_file():
        import warnings

        warnings.warn(f"the motion's audio file {motion.audio_path} is missing; no audio", stacklevel=3)
        return False
    return True


def _driving_from_video(
    path: Path, *, extractor: ExtractorSpec | None, device: str, progress: bool = False
) -> Driving:
    """Extract a driving video's coefficients with `pirender.motion.extract.pipeline.extract_motion`
    (streamed, temporally smoothed with its defaults). A square video is taken as face crops already,
    like a square source image; any other is tracked and cropped VoxCeleb-style."""
    from pirender.media.video import probe_video
    from pirender.motion.extract.pipeline import extract_motion

    info = probe_video(path)
    motion = extract_motion(
        path, load_extractor(extractor, device), crop=info.width != info.height, show_progress=progress
    )
    return Driving(motion, video=path, crop=motion.crop, has_audio=info.has_audio)
