"""Absolute (official cross-id crop-scale normalisation) and relative motion transfer."""

from __future__ import annotations

import numpy as np
import pytest

from pirender.errors import InputError
from pirender.motion.coeffs import ANGLE, CROP, EXP, check_coeffs, constant_windows
from pirender.pipelines.motion_transfer import absolute_motion, closest_frame, relative_motion

from .conftest import make_coeffs


def test_closest_frame_uses_official_weights() -> None:
    source = make_coeffs(1, 0)[0]
    driving = np.repeat(source[None], 3, axis=0)
    driving[0, EXP] += 0.5  # exp off by 0.5 everywhere: distance 0.3 * 0.5 = 0.15
    driving[1, ANGLE] += 0.25  # angles off by 0.25: distance 0.7 * 0.25 = 0.175
    driving[2, EXP] += 0.2
    driving[2, ANGLE] += 0.1  # 0.06 + 0.07 = 0.13, the smallest
    assert closest_frame(driving, source) == 2
    driving[2, ANGLE] += 0.1  # now 0.06 + 0.14 = 0.20 -> frame 0 (0.15) wins
    assert closest_frame(driving, source) == 0


def test_absolute_keeps_driving_and_rescales_crop_scale_only() -> None:
    driving = make_coeffs(6, 1)
    source = make_coeffs(1, 2)[0]
    out = absolute_motion(driving, source)
    k = closest_frame(driving, source)
    np.testing.assert_array_equal(out[:, :70], driving[:, :70])
    np.testing.assert_array_equal(out[:, 71:], driving[:, 71:])
    np.testing.assert_allclose(out[:, 70], driving[:, 70] * source[70] / driving[k, 70], rtol=1e-6)
    # the matched frame ends up with exactly the source's scale
    assert out[k, 70] == pytest.approx(source[70], rel=1e-6)
    np.testing.assert_array_equal(absolute_motion(driving, source, normalize_crop=False), driving)


def test_absolute_same_identity_is_identity() -> None:
    driving = make_coeffs(6, 3)
    np.testing.assert_array_equal(absolute_motion(driving, driving[0]), driving)


def test_relative_applies_driving_change_to_source() -> None:
    driving = make_coeffs(6, 4)
    source = make_coeffs(1, 5)[0]
    out = relative_motion(driving, source)
    np.testing.assert_allclose(out[0], source, rtol=1e-6, atol=1e-6)  # rest frame = the source itself
    np.testing.assert_allclose(out[:, :70] - source[:70], driving[:, :70] - driving[0, :70], atol=1e-5)
    s_src, s_ref = source[CROP][0], driving[0, CROP][0]
    np.testing.assert_allclose(out[:, 70], s_src * driving[:, 70] / s_ref, rtol=1e-6)
    shift = (driving[:, 71:] - driving[0, 71:]) * s_ref / s_src
    np.testing.assert_allclose(out[:, 71:], source[71:] + shift, rtol=1e-6)
    # a still driver leaves the source as it is
    still = np.repeat(driving[:1], 4, axis=0)
    np.testing.assert_allclose(relative_motion(still, source), np.repeat(source[None], 4, 0), atol=1e-6)


def test_relative_differs_from_absolute_across_identities() -> None:
    driving, source = make_coeffs(6, 6), make_coeffs(1, 7)[0]
    assert not np.allclose(relative_motion(driving, source)[:, EXP], absolute_motion(driving, source)[:, EXP])


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((4, 70), np.float32), "expected"),
        (np.zeros((0, 73), np.float32), "0 frames"),
        (np.full((3, 73), np.nan, np.float32), "NaN"),
        (np.concatenate([np.ones((2, 72)), np.full((2, 1), np.inf)], 1), "NaN or infinite"),
    ],
)
def test_bad_coefficients_rejected(array: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_coeffs(array)
    with pytest.raises(InputError):
        relative_motion(array, make_coeffs(1, 0)[0])


def test_constant_windows_repeat_each_frame() -> None:
    coeffs = make_coeffs(3, 8)
    windows = constant_windows(coeffs, 27)
    assert windows.shape == (3, 73, 27)
    np.testing.assert_array_equal(windows[:, :, 13], coeffs)
    np.testing.assert_array_equal(windows[:, :, 0], windows[:, :, 26])
