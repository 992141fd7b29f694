"""Files in, motion or crops out: the steps behind `pirender extract` and `pirender crop`.

Inputs are an image, a video or a folder of images (a sequence, in name order). Videos are streamed
twice (track the face, then crop and extract) and never held in memory; frames are extracted in
chunks of `CHUNK` crops.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from pirender.errors import InputError
from pirender.media.atomic import atomic_path
from pirender.media.image import is_image_path, load_image, save_image
from pirender.media.progress import frame_bar
from pirender.media.video import VideoWriter, is_video_path, iter_video_frames, probe_video
from pirender.motion.coeffs import DEFAULT_FPS
from pirender.motion.crop import CropInfo
from pirender.motion.extract import Extractor
from pirender.motion.faces import FaceSelect
from pirender.motion.sequence import Motion
from pirender.motion.smooth import SmoothingConfig, smooth_motion

CHUNK = 64
CROP_JSON_FORMAT = "pirender-crop"


@dataclass(frozen=True)
class FrameSource:
    """A re-iterable sequence of frames from an image, a video or a folder of images."""

    path: Path
    kind: Literal["image", "video", "folder"]
    num_frames: int
    fps: float
    has_audio: bool
    files: tuple[Path, ...] = ()  # image files (image and folder kinds)

    def frames(self) -> Iterator[np.ndarray]:
        """Yield (H, W, 3) uint8 frames (a fresh pass each call)."""
        if self.kind == "video":
            yield from iter_video_frames(self.path)
        else:
            for file in self.files:
                yield load_image(file)

    @property
    def names(self) -> list[str]:
        """One name per frame (for messages)."""
        if self.kind == "video":
            return [f"{self.path} frame {i}" for i in range(self.num_frames)]
        return [str(f) for f in self.files]


def open_frames(path: str | os.PathLike[str], *, fps: float | None = None) -> FrameSource:
    """Classify and probe an input (image, video or folder of images); InputError when unusable."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if path.is_dir():
        files = tuple(sorted(p for p in path.iterdir() if p.is_file() and is_image_path(p)))
        if not files:
            raise InputError(f"{path}: folder holds no images (.png, .jpg, ...)")
        return FrameSource(path, "folder", len(files), fps or DEFAULT_FPS, False, files)
    if is_image_path(path):
        load_image(path)  # validate now: a broken image fails before any model is loaded
        return FrameSource(path, "image", 1, fps or DEFAULT_FPS, False, (path,))
    if is_video_path(path):
        info = probe_video(path)
        return FrameSource(path, "video", info.num_frames, fps or info.fps, info.has_audio)
    raise InputError(f"{path}: unknown input type (expected an image, a video or a folder of images)")


def track_crops(
    source: FrameSource,
    *,
    size: int = 256,
    scale: float = 1.0,
    mode: Literal["track", "fixed"] = "track",
    smoothing: float = 0.5,
    model_path: str | os.PathLike[str] | None = None,
    face: FaceSelect | None = None,
    progress: bool = False,
) -> CropInfo | list[CropInfo]:
    """Crop transforms of every frame: one CropInfo, or one per image for a folder of mixed sizes
    (`face`: which face, in a photo or in each of unrelated photos; in a video, the one to follow;
    `progress`: a bar on stderr while the faces are found)."""
    from pirender.motion.faces import FaceCropper

    with FaceCropper(size=size, scale=scale, model_path=model_path) as cropper:
        if source.kind == "image":
            image = load_image(source.path)
            transform = cropper.crop_transform(image, name=str(source.path), face=face)
            return CropInfo.from_transforms([transform])
        if source.kind == "folder":
            sizes = {_image_size(f) for f in source.files}
            if len(sizes) > 1:  # unrelated photos: each cropped on its own
                return [
                    CropInfo.from_transforms([cropper.crop_transform(load_image(f), name=str(f), face=face)])
                    for f in frame_bar(source.files, source.num_frames, "finding faces", progress)
                ]
        frames = frame_bar(source.frames(), source.num_frames, "finding faces", progress)
        info, _ = cropper.track(
            frames, source.fps, mode=mode, smoothing=smoothing, name=str(source.path), face=face
        )
        return info


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            return ImageOps.exif_transpose(img).size
    except OSError:
        return load_image(path).shape[1::-1]  # raises a clear InputError


def cropped_frames(source: FrameSource, crops: CropInfo | list[CropInfo]) -> Iterator[np.ndarray]:
    """Yield (S, S, 3) crops of every frame."""
    for index, frame in enumerate(source.frames()):
        transform = crops[index][0] if isinstance(crops, list) else crops[index]
        yield transform.apply(frame)


def extract_motion(
    path: str | os.PathLike[str],
    extractor: Extractor,
    *,
    crop: bool = True,
    crop_mode: Literal["track", "fixed"] = "track",
    crop_smoothing: float = 0.5,
    smoothing: SmoothingConfig | None = None,
    fps: float | None = None,
    landmark_model: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    show_progress: bool = False,
) -> Motion:
    """Image, video or folder -> Motion.

    Args:
        path: input file or folder.
        extractor: Deep3DExtractor, SynthHeadExtractor or any Extractor.
        crop: cut VoxCeleb-style face crops first (False: the frames already are square face crops).
        crop_mode / crop_smoothing: how crops follow the face through a video (see motion.faces).
        smoothing: temporal filter of the extracted motion; None = SmoothingConfig() defaults,
            SmoothingConfig(method="none") = off.
        fps: frame rate for image sequences (default 25) or to override the video's.
        progress: called with (frames done, total).
        show_progress: bars on stderr while faces are found and coefficients extracted.
    Returns:
        Motion (T, 73) with the crop transforms (when cropped) and the input's audio (videos).
    """
    source = open_frames(path, fps=fps)
    crops: CropInfo | list[CropInfo] | None = None
    if crop:
        crops = track_crops(
            source,
            mode=crop_mode,
            smoothing=crop_smoothing,
            model_path=landmark_model,
            progress=show_progress,
        )
        frames: Iterator[np.ndarray] = cropped_frames(source, crops)
    else:
        frames = _square_frames(source)
    chunks, batch, done = [], [], 0
    for frame in frame_bar(frames, source.num_frames, "extracting motion", show_progress):
        batch.append(frame)
        if len(batch) == CHUNK:
            chunks.append(extractor.extract(batch))
            done += len(batch)
            batch = []
            if progress:
                progress(done, source.num_frames)
    if batch:
        chunks.append(extractor.extract(batch))
        if progress:
            progress(done + len(batch), source.num_frames)
    coeffs = np.concatenate(chunks)
    coeffs = smooth_motion(coeffs, source.fps, smoothing)
    crop_info = crops if isinstance(crops, CropInfo) else None
    if isinstance(crops, list):
        warnings.warn(f"{source.path}: images of different sizes; crop metadata not kept", stacklevel=2)
    return Motion(
        coeffs=coeffs,
        fps=source.fps,
        audio_path=str(source.path) if source.has_audio else None,
        crop=crop_info,
        source=f"{extractor.name}:{source.path}",
    )


def _square_frames(source: FrameSource) -> Iterator[np.ndarray]:
    for frame, name in zip(source.frames(), source.names, strict=False):
        if frame.shape[0] != frame.shape[1]:
            raise InputError(
                f"{name}: --no-crop needs square face crops, got {frame.shape[1]}x{frame.shape[0]}"
            )
        yield frame


def crop_to_files(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    size: int = 256,
    scale: float = 1.0,
    mode: Literal["track", "fixed"] = "track",
    smoothing: float = 0.5,
    model_path: str | os.PathLike[str] | None = None,
    face: FaceSelect | None = None,
    progress: bool = False,
) -> Path:
    """Crop an image, video or folder; write the crops and a `<output>.crop.json` with the transforms
    (`face`: which face; default the largest; `progress`: bars on stderr).

    Image -> image file; video -> MP4 (audio kept); folder -> folder of PNGs. Returns the JSON path.
    Nothing is written when any step fails.
    """
    from pirender.media.output_check import check_output_dir, check_output_path

    source = open_frames(path)
    output = Path(output)
    if source.kind == "image":
        if not is_image_path(output):
            raise InputError(f"{output}: the crop of an image must be an image file (.png, .jpg)")
        check_output_path(output, (output.suffix.lower(),), inputs=(path,))
    elif source.kind == "video":
        if output.suffix.lower() not in (".mp4", ".mov", ".mkv"):
            raise InputError(f"{output}: the crop of a video must be an .mp4/.mov/.mkv file")
        check_output_path(output, (output.suffix.lower(),), inputs=(path,))
    else:
        if output.suffix:
            raise InputError(f"{output}: the crop of a folder is a folder (no suffix)")
        check_output_dir(output, inputs=(path,))
    crops = track_crops(
        source,
        size=size,
        scale=scale,
        mode=mode,
        smoothing=smoothing,
        model_path=model_path,
        face=face,
        progress=progress,
    )
    sidecar = output.with_name(output.name + ".crop.json")
    if source.kind == "image":
        save_image(output, next(cropped_frames(source, crops)))
        _write_sidecar_or_remove(sidecar, source, crops, output)
    elif source.kind == "video":
        with VideoWriter(
            output, source.fps, (size, size), audio=source.path if source.has_audio else None
        ) as writer:
            for crop in frame_bar(cropped_frames(source, crops), source.num_frames, "cropping", progress):
                writer.write(crop)
        _write_sidecar_or_remove(sidecar, source, crops, output)
    else:
        from pirender.media.atomic import atomic_dir

        with atomic_dir(output) as tmp:
            crops_of = frame_bar(cropped_frames(source, crops), source.num_frames, "cropping", progress)
            for file, crop in zip(source.files, crops_of, strict=True):
                save_image(tmp / (file.stem + ".png"), crop)
        _write_sidecar_or_remove(sidecar, source, crops, output)
    return sidecar


def _write_sidecar_or_remove(
    path: Path, source: FrameSource, crops: CropInfo | list[CropInfo], output: Path
) -> None:
    """Write the crop JSON; if that fails, remove the crops just written so no half result remains."""
    try:
        _write_crop_json(path, source, crops)
    except BaseException:
        import shutil

        shutil.rmtree(output) if output.is_dir() else output.unlink(missing_ok=True)
        raise


def _write_crop_json(path: Path, source: FrameSource, crops: CropInfo | list[CropInfo]) -> None:
    infos = crops if isinstance(crops, list) else [crops]
    frames = []
    for index, info in enumerate(infos):
        for t in range(len(info)):
            transform = info[t]
            entry = {
                "center": [round(transform.center_x, 3), round(transform.center_y, 3)],
                "side": round(transform.side, 3),
                "source_size": [transform.source_width, transform.source_height],
            }
            if isinstance(crops, list):
                entry["file"] = str(source.files[index])
            frames.append(entry)
    data = {
        "format": CROP_JSON_FORMAT,
        "version": 1,
        "source": str(source.path),
        "size": infos[0].size,
        "fps": source.fps,
        "frames": frames,
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def load_crop_json(path: str | os.PathLike[str]) -> CropInfo:
    """Read a `.crop.json` written by `pirender crop` (one source size) back as CropInfo."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != CROP_JSON_FORMAT:
            raise InputError("not a pirender crop file")
        frames = data["frames"]
        sizes = {tuple(f["source_size"]) for f in frames}
        if len(sizes) != 1:
            raise InputError("frames of different source sizes")
        (width, height) = sizes.pop()
        return CropInfo(
            centers=np.array([f["center"] for f in frames]),
            sides=np.array([f["side"] for f in frames]),
            size=int(data["size"]),
            source_width=int(width),
            source_height=int(height),
        )
    except (OSError, ValueError, KeyError, TypeError, InputError) as e:  # bad JSON, bad crop values
        raise InputError(f"{path}: not a readable crop file ({e})") from None
