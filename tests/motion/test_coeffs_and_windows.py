"""The 73-value layout helpers and the clamped 2r+1 windows."""

from __future__ import annotations

import numpy as np
import pytest

from pirender.motion import SEMANTIC_RADIUS, Motion, motion_windows, window_indices
from pirender.motion.coeffs import CROP, MOTION_DIM, from_lmdb_rows, to_lmdb_rows, with_crop


def test_window_edges_are_clamped() -> None:
    np.testing.assert_array_equal(window_indices(5, 0, radius=3), [0, 0, 0, 0, 1, 2, 3])
    np.testing.assert_array_equal(window_indices(5, 4, radius=3), [1, 2, 3, 4, 4, 4, 4])
    np.testing.assert_array_equal(window_indices(1, 0, radius=2), [0] * 5)
    assert len(window_indices(100, 50)) == 2 * SEMANTIC_RADIUS + 1


def test_motion_windows_shape_and_content() -> None:
    coeffs = np.arange(4 * 73, dtype=np.float32).reshape(4, 73)
    windows = Motion(coeffs).windows()
    assert windows.shape == (4, 73, 27)
    # frame axis last; the first window starts with 13 copies of frame 0, the last ends with frame 3
    np.testing.assert_array_equal(windows[0, :, :14], np.repeat(coeffs[0][:, None], 14, axis=1))
    np.testing.assert_array_equal(windows[3, :, 13:], np.repeat(coeffs[3][:, None], 14, axis=1))
    np.testing.assert_array_equal(windows[1, :, 13], coeffs[1])
    np.testing.assert_array_equal(motion_windows(coeffs, np.array([2]), radius=1)[0], coeffs[[1, 2, 3]].T)


def test_with_crop_and_lmdb_rows() -> None:
    rng = np.random.default_rng(0)
    motion70 = rng.normal(size=(6, MOTION_DIM)).astype(np.float32)
    full = with_crop(motion70, [1.0, 128.0, 120.0])
    assert full.shape == (6, 73)
    np.testing.assert_array_equal(full[:, CROP], np.tile([1.0, 128.0, 120.0], (6, 1)))
    np.testing.assert_array_equal(from_lmdb_rows(to_lmdb_rows(full)), full)
    with pytest.raises(ValueError):
        with_crop(full, [1, 2, 3])
