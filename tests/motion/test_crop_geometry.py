"""CropTransform: cutting, coordinate maps and paste-back agree with each other."""

from __future__ import annotations

import numpy as np
import pytest

from pirender.errors import InputError
from pirender.motion import CropInfo, CropTransform


def _image(h: int = 120, w: int = 160) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 1.5, y * 2.0, (x + y) % 256], -1).clip(0, 255).astype(np.uint8)


def test_coordinate_maps_are_inverse_and_match_the_cut() -> None:
    t = CropTransform(center_x=80.0, center_y=60.0, side=64.0, size=128, source_width=160, source_height=120)
    points = np.array([[48.0, 28.0], [80.0, 60.0], [100.5, 70.25]])
    np.testing.assert_allclose(t.to_source(t.to_crop(points)), points)
    np.testing.assert_allclose(t.to_crop([[48.0, 28.0]]), [[0.0, 0.0]])
    np.testing.assert_allclose(t.matrix() @ np.array([80.0, 60.0, 1.0]), [64.0, 64.0])
    crop = t.apply(_image())
    assert crop.shape == (128, 128, 3)
    # crop pixel (row 64, col 64) samples source (x=80.25, y=60.25): red = 1.5 x, green = 2 y
    assert abs(int(crop[64, 64, 0]) - 1.5 * 80.25) <= 2 and abs(int(crop[64, 64, 1]) - 2 * 60.25) <= 2


def test_out_of_bounds_crop_replicates_the_border() -> None:
    t = CropTransform(center_x=5.0, center_y=5.0, side=40.0, size=40, source_width=160, source_height=120)
    crop = t.apply(_image())
    # the top-left quarter lies outside the image: it repeats pixel (0, 0)
    np.testing.assert_array_equal(crop[:10, :10], np.broadcast_to(_image()[0, 0], (10, 10, 3)))


@pytest.mark.parametrize("side", [50.0, 97.3, 200.0])
def test_paste_back_of_the_unchanged_crop_restores_the_image(side: float) -> None:
    image = _image()
    t = CropTransform(center_x=70.4, center_y=55.7, side=side, size=96, source_width=160, source_height=120)
    restored = t.paste_back(image, t.apply(image), feather=0.0)
    assert np.abs(restored.astype(int) - image).mean() < 2.0


def test_paste_back_replaces_only_the_crop_region_with_a_soft_edge() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    t = CropTransform(50.0, 50.0, 40.0, 256, 100, 100)
    out = t.paste_back(image, np.full((256, 256, 3), 200, np.uint8), feather=0.1)
    assert out[50, 50, 0] == 200  # centre replaced
    assert out[5, 5].max() == 0 and out[95, 50].max() == 0  # outside untouched
    assert 0 < out[50, 31, 0] < 200  # feathered edge: a blend
    hard = t.paste_back(image, np.full((64, 64, 3), 200, np.uint8), feather=0.0)
    assert hard[50, 31, 0] == 200 and hard[50, 29, 0] == 0
    with pytest.raises(InputError):
        t.paste_back(np.zeros((50, 50, 3), np.uint8), np.zeros((64, 64, 3), np.uint8))


def test_crop_info_indexing_and_arrays() -> None:
    transforms = [CropTransform(10.0 + i, 20.0, 30.0 + i, 64, 100, 80) for i in range(3)]
    info = CropInfo.from_transforms(transforms)
    assert len(info) == 3 and info[2] == CropTransform(12.0, 20.0, 32.0, 64, 100, 80)
    again = CropInfo.from_arrays(info.to_arrays())
    np.testing.assert_array_equal(again.centers, info.centers)
    assert again[1] == info[1]
