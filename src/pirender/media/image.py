"""Still images in and out: every input becomes (H, W, 3) uint8 RGB, every output is written atomically.

Conversions applied by `load_image` (so the rest of the code only ever sees 8-bit RGB):

* EXIF orientation is applied (a phone photo shot in portrait comes out upright).
* Grayscale (L, 1-bit) is replicated to three channels.
* Alpha (RGBA, LA, palette with transparency) is composited over **white**: a transparent
  background becomes white, as image viewers show it, instead of whatever colour the
  invisible pixels happen to hold (often black, which would darken the hair outline).
* 16-bit images (I;16 grayscale, 16-bit RGB PNG, 32-bit int "I") are scaled to 8 bits by
  value / 257 (65535 -> 255); float "F" images are taken as [0, 1] when their maximum is <= 1,
  else as [0, 255].
* CMYK, YCbCr, LAB and other modes go through Pillow's RGB conversion.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pirender.errors import InputError
from pirender.media.atomic import atomic_path

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"})

# Pillow formats for the suffixes we write; anything else is rejected before any work is done.
_SAVE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name has a still-image suffix (the content is not inspected)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as RGB.

    Returns:
        (H, W, 3) uint8 RGB, upright (EXIF orientation applied), alpha composited over white.
    Raises:
        InputError: missing, unreadable or not an image (one line, naming the file).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"image not found: {path}")
    if path.is_dir():
        raise InputError(f"expected an image file, got a directory: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            return to_rgb_array(img)
    except UnidentifiedImageError:
        raise InputError(f"{path}: not a readable image (unknown or corrupt format)") from None
    except (OSError, ValueError, SyntaxError) as e:  # truncated files, broken headers, decoder errors
        raise InputError(f"{path}: cannot decode image ({' '.join(str(e).split())})") from None


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """Convert a Pillow image of any mode to (H, W, 3) uint8 RGB (see the module docstring for the rules)."""
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(img, dtype=np.float64)
        if mode == "F":
            scale = 255.0 if values.size and np.nanmax(values) <= 1.0 else 1.0
            gray = values * scale
        else:
            gray = values / 257.0
        gray = np.clip(np.rint(np.nan_to_num(gray)), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def save_image(path: str | os.PathLike[str], image: np.ndarray, *, quality: int = 95) -> None:
    """Write an image atomically (a temporary file renamed into place; an error leaves no file).

    Args:
        path: output file; the format comes from the suffix (.png, .jpg, .bmp, .webp, .tif).
        image: (H, W, 3) RGB, (H, W, 4) RGBA or (H, W) grayscale, uint8.
        quality: JPEG/WebP quality.
    """
    path = Path(path)
    fmt = _SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unsupported image suffix (use one of {', '.join(sorted(_SAVE_FORMATS))})")
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"save_image expects uint8 pixels, got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ValueError(f"save_image expects (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")
    pil = Image.fromarray(np.ascontiguousarray(image))
    if fmt == "JPEG" and pil.mode == "RGBA":
        pil = Image.fromarray(to_rgb_array(pil))
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    with atomic_path(path) as tmp:
        pil.save(tmp, format=fmt, **options)
