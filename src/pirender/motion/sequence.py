"""`Motion`: a driving sequence (T x 73 coefficients + frame rate + where it came from), stored as .npz.

The file holds only numeric and fixed-width unicode arrays, so it loads with `allow_pickle=False`:

    format_version  ()      int64, currently 1
    coeffs          (T, 73) float32, layout in motion.coeffs
    fps             ()      float64
    source          ()      unicode, free text (input file, extractor name)
    audio_path      ()      unicode, "" when none
    crop_*          optional per-frame crop transforms (see motion.crop.CropInfo.to_arrays)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pirender.errors import InputError
from pirender.media.atomic import atomic_path
from pirender.motion.coeffs import DEFAULT_FPS, SEMANTIC_RADIUS, check_coeffs, motion_windows
from pirender.motion.crop import CropInfo

FORMAT_VERSION = 1


@dataclass
class Motion:
    """Per-frame driving coefficients.

    coeffs: (T, 73) float32 [exp 64 | angle 3 | trans 3 | crop 3].
    crop: per-frame crop transforms of the frames the motion was extracted from (for paste-back), or None.
    """

    coeffs: np.ndarray
    fps: float = DEFAULT_FPS
    audio_path: str | None = None
    crop: CropInfo | None = None
    source: str = ""
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # not saved; reader-specific details

    def __post_init__(self) -> None:
        coeffs = check_coeffs(
            self.coeffs, name=self.source or "motion", renderable=False
        )  # the (T, 73) contract
        if not self.fps > 0:
            raise InputError(f"{self.source or 'motion'}: fps must be positive, got {self.fps}")
        if self.crop is not None and len(self.crop) != coeffs.shape[0]:
            raise InputError(f"Motion has {coeffs.shape[0]} frames but {len(self.crop)} crop transforms")
        self.coeffs = np.ascontiguousarray(coeffs)
        self.fps = float(self.fps)

    @property
    def num_frames(self) -> int:
        return int(self.coeffs.shape[0])

    def windows(self, indices: np.ndarray | None = None, radius: int = SEMANTIC_RADIUS) -> np.ndarray:
        """(N, 73, 2r+1) renderer windows, clamped at the ends (see motion.coeffs.motion_windows)."""
        return motion_windows(self.coeffs, indices, radius)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the .npz atomically (no pickled objects)."""
        path = Path(path)
        if path.suffix.lower() != ".npz":
            raise InputError(f"{path}: motion files are .npz")
        arrays: dict[str, np.ndarray] = {
            "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
            "coeffs": self.coeffs,
            "fps": np.array(self.fps, dtype=np.float64),
            "source": np.array(self.source, dtype=np.str_),
            # absolute, so the motion keeps its audio from any working directory
            "audio_path": np.array(
                str(Path(self.audio_path).absolute()) if self.audio_path else "", dtype=np.str_
            ),
        }
        if self.crop is not None:
            arrays.update(self.crop.to_arrays())
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:  # a file object: np.savez would otherwise append ".npz" to tmp
                np.savez(f, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Motion:
        """Read a file written by `save`; a malformed file gives an InputError naming it."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"motion file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                keys = set(data.files)
                if "coeffs" not in keys or "format_version" not in keys:
                    raise InputError(
                        f"{path}: not a pirender motion file (expected arrays 'format_version' and 'coeffs', "
                        f"found {sorted(keys) or 'none'})"
                    )
                version = int(data["format_version"])
                if version > FORMAT_VERSION:
                    raise InputError(f"{path}: motion format version {version} is newer than this pirender")
                crop = CropInfo.from_arrays(data) if "crop_centers" in keys else None
                audio = str(data["audio_path"]) if "audio_path" in keys else ""
                return cls(
                    coeffs=data["coeffs"],
                    fps=float(data["fps"]) if "fps" in keys else DEFAULT_FPS,
                    audio_path=_find_audio(audio, path) if audio else None,
                    crop=crop,
                    source=str(data["source"]) if "source" in keys else "",
                )
        except InputError as e:
            if str(path) in str(e):
                raise
            raise InputError(f"{path}: malformed motion .npz ({e})") from None
        except (ValueError, KeyError, OSError, EOFError) as e:
            raise InputError(f"{path}: malformed motion .npz ({' '.join(str(e).split())})") from None


def _find_audio(stored: str, motion_file: Path) -> str:
    """Where a motion file's audio is: the stored path when it exists (a relative one, written by an
    older pirender, taken from the working directory), else the same path taken from the motion
    file's folder, else a file of that name beside the motion file (the two moved together); the
    stored path when none exists (the pipelines then say the audio is missing)."""
    candidates = [Path(stored)]
    if not Path(stored).is_absolute():
        candidates.append(motion_file.parent / stored)
    candidates.append(motion_file.parent / Path(stored).name)
    return str(next((c for c in candidates if c.is_file()), Path(stored)))
