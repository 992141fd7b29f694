"""Square face crops as data: where a crop came from, how to cut it, and how to paste a result back.

Coordinates are continuous image coordinates in pixels: pixel (i, j) covers [j, j+1) x [i, i+1), so its
centre is (j + 0.5, i + 0.5); mediapipe's normalised landmarks times (W, H) are in this convention.
A crop is axis-aligned (VoxCeleb crops never rotate the frame), so a transform is a centre, a side
length in source pixels and an output size S: crop_xy = (source_xy - (centre - side/2)) * S / side.
Regions of the crop outside the source image are filled by replicating the border pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from pirender.errors import InputError


@dataclass(frozen=True)
class CropTransform:
    """One square crop of a source image of size (source_width, source_height)."""

    center_x: float
    center_y: float
    side: float  # crop side in source pixels
    size: int  # output side S in pixels
    source_width: int
    source_height: int

    def __post_init__(self) -> None:
        if not self.side > 0 or self.size < 1:
            raise InputError(f"crop side and size must be positive, got side={self.side}, size={self.size}")

    @property
    def origin(self) -> tuple[float, float]:
        """Top-left corner of the crop in source pixels (may be negative or beyond the image)."""
        return self.center_x - self.side / 2, self.center_y - self.side / 2

    @property
    def scale(self) -> float:
        """Crop pixels per source pixel."""
        return self.size / self.side

    def matrix(self) -> np.ndarray:
        """(2, 3) affine matrix mapping source (x, y, 1) to crop (x, y)."""
        x0, y0 = self.origin
        k = self.scale
        return np.array([[k, 0.0, -x0 * k], [0.0, k, -y0 * k]])

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) source xy -> (N, 2) crop xy."""
        x0, y0 = self.origin
        return (np.asarray(points, dtype=np.float64) - [x0, y0]) * self.scale

    def to_source(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) crop xy -> (N, 2) source xy."""
        x0, y0 = self.origin
        return np.asarray(points, dtype=np.float64) / self.scale + [x0, y0]

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Cut the crop out of `image`.

        Args:
            image: (H, W, 3) uint8, H = source_height, W = source_width.
        Returns:
            (S, S, 3) uint8; antialiased when shrinking (Pillow's bicubic with support scaled).
        """
        image = np.asarray(image)
        h, w = image.shape[:2]
        if (w, h) != (self.source_width, self.source_height):
            raise InputError(
                f"crop was made for a {self.source_width}x{self.source_height} image, got {w}x{h}"
            )
        x0, y0 = self.origin
        x1, y1 = x0 + self.side, y0 + self.side
        # Pad so the box lies inside the padded image (edge replication), then resize the box.
        pad_l = max(0, int(np.ceil(-x0)) + 2)
        pad_t = max(0, int(np.ceil(-y0)) + 2)
        pad_r = max(0, int(np.ceil(x1 - w)) + 2)
        pad_b = max(0, int(np.ceil(y1 - h)) + 2)
        if pad_l or pad_t or pad_r or pad_b:
            image = np.pad(image, ((pad_t, pad_b), (pad_l, pad_r), (0, 0)), mode="edge")
        box = (x0 + pad_l, y0 + pad_t, x1 + pad_l, y1 + pad_t)
        crop = Image.fromarray(np.ascontiguousarray(image)).resize(
            (self.size, self.size), Image.Resampling.BICUBIC, box=box
        )
        return np.asarray(crop, dtype=np.uint8)

    def paste_back(
        self,
        original: np.ndarray,
        rendered_crop: np.ndarray,
        *,
        feather: float = 0.08,
        alpha: np.ndarray | None = None,
    ) -> np.ndarray:
        """Put a rendered crop back into the original image.

        Args:
            original: (H, W, 3) uint8 source image (or video frame) this crop was cut from.
            rendered_crop: (R, R, 3) uint8 result for the crop; any R (it is resampled to the crop's
                footprint in the source).
            feather: width of the soft border as a fraction of the crop side (0 = hard edge).
            alpha: optional (R, R) float weights in [0, 1] of the rendered crop (1 = rendered, 0 =
                original), resampled with it: only that part of the crop is pasted, so pixels where
                alpha is 0 keep the original exactly (no resampling blur).
        Returns:
            (H, W, 3) uint8 copy of `original` with the crop region replaced.
        """
        original = np.asarray(original)
        rendered_crop = np.asarray(rendered_crop)
        h, w = original.shape[:2]
        if (w, h) != (self.source_width, self.source_height):
            raise InputError(
                f"crop was made for a {self.source_width}x{self.source_height} image, got {w}x{h}"
            )
        if rendered_crop.ndim != 3 or rendered_crop.shape[0] != rendered_crop.shape[1]:
            raise InputError(f"rendered crop must be (R, R, 3), got {rendered_crop.shape}")
        if alpha is not None and alpha.shape != rendered_crop.shape[:2]:
            raise InputError(f"alpha must be {rendered_crop.shape[:2]}, got {alpha.shape}")
        x0, y0 = self.origin
        ix0, iy0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        ix1, iy1 = min(w, int(np.ceil(x0 + self.side))), min(h, int(np.ceil(y0 + self.side)))
        if ix1 <= ix0 or iy1 <= iy0:
            return original.copy()
        # Resample the rendered crop at a resolution close to its footprint, then sample it bilinearly
        # at the exact (sub-pixel) positions of the covered source pixel centres.
        k = max(2, int(round(self.side)))
        resized = np.asarray(
            Image.fromarray(np.ascontiguousarray(rendered_crop)).resize((k, k), Image.Resampling.BICUBIC),
            dtype=np.float32,
        )
        u = (np.arange(ix0, ix1) + 0.5 - x0) * k / self.side - 0.5  # positions in `resized` pixel units
        v = (np.arange(iy0, iy1) + 0.5 - y0) * k / self.side - 0.5
        patch = _bilinear(resized, v, u)
        mask = _feather_mask(v / k, u / k, feather)[..., None]
        if alpha is not None:
            weights = Image.fromarray(np.ascontiguousarray(alpha, np.float32)).resize(
                (k, k), Image.Resampling.BILINEAR
            )
            mask = mask * np.clip(_bilinear(np.asarray(weights)[..., None], v, u), 0.0, 1.0)
        out = original.astype(np.float32)
        region = out[iy0:iy1, ix0:ix1]
        out[iy0:iy1, ix0:ix1] = mask * patch + (1.0 - mask) * region
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample (h, w, C) at the grid rows x cols (pixel-centre units), clamping at the border."""
    h, w = image.shape[:2]
    rows = np.clip(rows, 0, h - 1)
    cols = np.clip(cols, 0, w - 1)
    r0 = np.floor(rows).astype(int)
    c0 = np.floor(cols).astype(int)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    fr = (rows - r0)[:, None, None]
    fc = (cols - c0)[None, :, None]
    top = image[r0][:, c0] * (1 - fc) + image[r0][:, c1] * fc
    bottom = image[r1][:, c0] * (1 - fc) + image[r1][:, c1] * fc
    return top * (1 - fr) + bottom * fr


def _feather_mask(v: np.ndarray, u: np.ndarray, feather: float) -> np.ndarray:
    """(len(v), len(u)) weights in [0, 1]: 1 inside, a smoothstep ramp over `feather` at the crop edges."""
    if feather <= 0:
        return np.ones((len(v), len(u)), np.float32)

    def ramp(t: np.ndarray) -> np.ndarray:
        d = np.clip(np.minimum(t, 1.0 - t) / feather, 0.0, 1.0)  # distance to the nearest edge
        return d * d * (3 - 2 * d)

    return (ramp(v)[:, None] * ramp(u)[None, :]).astype(np.float32)


@dataclass(frozen=True)
class CropInfo:
    """Per-frame crops of a sequence (one transform per frame), as stored in a Motion file."""

    centers: np.ndarray  # (T, 2) float32 source xy
    sides: np.ndarray  # (T,) float32 source pixels
    size: int  # output side S
    source_width: int
    source_height: int

    def __post_init__(self) -> None:
        centers = np.asarray(self.centers, dtype=np.float32).reshape(-1, 2)
        sides = np.asarray(self.sides, dtype=np.float32).reshape(-1)
        if len(centers) != len(sides):
            raise InputError(f"crop centers ({len(centers)}) and sides ({len(sides)}) differ in length")
        object.__setattr__(self, "centers", centers)
        object.__setattr__(self, "sides", sides)

    def __len__(self) -> int:
        return len(self.sides)

    def __getitem__(self, index: int) -> CropTransform:
        cx, cy = self.centers[index]
        return CropTransform(
            float(cx), float(cy), float(self.sides[index]), self.size, self.source_width, self.source_height
        )

    @classmethod
    def from_transforms(cls, transforms: list[CropTransform]) -> CropInfo:
        if not transforms:
            raise ValueError("no crop transforms")
        first = transforms[0]
        return cls(
            centers=np.array([[t.center_x, t.center_y] for t in transforms]),
            sides=np.array([t.side for t in transforms]),
            size=first.size,
            source_width=first.source_width,
            source_height=first.source_height,
        )

    def to_arrays(self, prefix: str = "crop_") -> dict[str, np.ndarray]:
        """Plain numeric arrays for an .npz file."""
        return {
            f"{prefix}centers": self.centers,
            f"{prefix}sides": self.sides,
            f"{prefix}size": np.array(self.size, dtype=np.int64),
            f"{prefix}source_size": np.array([self.source_width, self.source_height], dtype=np.int64),
        }

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray] | np.lib.npyio.NpzFile, prefix: str = "crop_"
    ) -> CropInfo:
        width, height = (int(v) for v in np.asarray(arrays[f"{prefix}source_size"]).reshape(2))
        return cls(
            centers=arrays[f"{prefix}centers"],
            sides=arrays[f"{prefix}sides"],
            size=int(arrays[f"{prefix}size"]),
            source_width=width,
            source_height=height,
        )
