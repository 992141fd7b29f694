"""load_image / save_image: every pixel format becomes (H, W, 3) uint8 RGB; errors are one line."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pirender.errors import InputError
from pirender.media.image import load_image, save_image


def _gradient(h: int = 12, w: int = 20) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 12, y * 20, (x + y) * 7], axis=-1).astype(np.uint8)


def _write_png16_rgb(path: Path, rgb16: np.ndarray) -> None:
    """A minimal 16-bit RGB PNG writer (Pillow cannot write this mode)."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[i].astype(">u2").tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    path.write_bytes(png + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_rgb_png_round_trip(tmp_path: Path) -> None:
    img = _gradient()
    save_image(tmp_path / "a.png", img)
    out = load_image(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.shape == (12, 20, 3)
    np.testing.assert_array_equal(out, img)


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    gray = _gradient()[..., 0]
    Image.fromarray(gray, mode="L").save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert out.shape == (12, 20, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200  # red-ish colour
    rgba[:2, :, 3] = 255  # top half opaque, bottom half fully transparent
    rgba[2, :, 3] = 128  # one half-transparent row
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    np.testing.assert_array_equal(out[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(out[3, 0], [255, 255, 255])
    np.testing.assert_allclose(
        out[2, 0].astype(int), [round(200 * 128 / 255 + 255 * 127 / 255)] + [127] * 2, atol=1
    )


def test_palette_with_transparency(tmp_path: Path) -> None:
    pal = Image.new("P", (3, 3), 0)
    pal.putpalette([10, 20, 30, 250, 0, 0] + [0] * (256 * 3 - 6))
    pal.putpixel((1, 1), 1)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    out = load_image(tmp_path / "p.png")
    np.testing.assert_array_equal(out[1, 1], [250, 0, 0])
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])


def test_16bit_grayscale_and_rgb(tmp_path: Path) -> None:
    gray16 = (np.arange(12 * 20).reshape(12, 20) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    out = load_image(tmp_path / "g16.png")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 1], np.clip(np.arange(12 * 20).reshape(12, 20), 0, 255))

    rgb16 = _gradient().astype(np.uint16) * 257
    _write_png16_rgb(tmp_path / "c16.png", rgb16)
    out = load_image(tmp_path / "c16.png")
    np.testing.assert_array_equal(out, _gradient())


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = np.zeros((10, 30, 3), np.uint8)
    img[:, :5] = 255  # a bright band on the left of the stored pixels
    pil = Image.fromarray(img)
    exif = pil.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    pil.save(tmp_path / "r.jpg", exif=exif, quality=100)
    out = load_image(tmp_path / "r.jpg")
    assert out.shape == (30, 10, 3)  # displayed upright: portrait
    assert out[:5].mean() > 200 and out[-5:].mean() < 50  # the left band is now at the top


def test_missing_corrupt_and_directory_give_one_line_input_error(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    for path in (tmp_path / "missing.png", tmp_path / "bad.png", tmp_path):
        with pytest.raises(InputError) as info:
            load_image(path)
        message = str(info.value)
        assert "\n" not in message and str(path) in message


def test_save_is_atomic_and_validates(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        save_image(tmp_path / "f.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InputError):
        save_image(tmp_path / "f.xyz", np.zeros((4, 4, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
    save_image(tmp_path / "f.jpg", np.zeros((4, 4, 4), np.uint8))  # RGBA to JPEG: composited
    assert [p.name for p in tmp_path.iterdir()] == ["f.jpg"]
