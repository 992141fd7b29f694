"""Temporal smoothing reduces jitter, keeps still motion still, and can be switched off."""

from __future__ import annotations

import numpy as np
import pytest

from pirender.errors import InputError
from pirender.motion import SmoothingConfig, smooth_motion


def _jittery(t: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    time = np.arange(t) / 25.0
    clean = np.zeros((t, 73), np.float32)
    clean[:, :64] = 0.5 * np.sin(2 * np.pi * 0.5 * time)[:, None]  # slow expression change
    clean[:, 64:67] = 0.2 * np.sin(2 * np.pi * 0.3 * time)[:, None]
    clean[:, 70:] = [1.0, 128.0, 128.0]
    noisy = clean + np.random.default_rng(seed).normal(0, 0.05, clean.shape).astype(np.float32)
    return clean, noisy


def _jitter(m: np.ndarray) -> float:
    return float(np.abs(np.diff(m[:, :70], axis=0)).mean())


def _error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a[:, :70] - b[:, :70]).mean())


@pytest.mark.parametrize(
    ("config", "max_jitter_ratio"), [(SmoothingConfig(), 0.7), (SmoothingConfig.parse("gaussian:0.08"), 0.6)]
)
def test_gaussian_reduces_jitter_and_error(config: SmoothingConfig, max_jitter_ratio: float) -> None:
    clean, noisy = _jittery()
    smoothed = smooth_motion(noisy, 25.0, config)
    assert smoothed.shape == noisy.shape and smoothed.dtype == np.float32
    assert _jitter(smoothed) < max_jitter_ratio * _jitter(noisy)
    assert _error(smoothed, clean) < 0.75 * _error(noisy, clean)  # zero-phase: no lag, less noise


def test_one_euro_reduces_jitter_causally() -> None:
    clean, noisy = _jittery()
    smoothed = smooth_motion(noisy, 25.0, SmoothingConfig(method="one-euro"))
    assert _jitter(smoothed) < 0.7 * _jitter(noisy)
    np.testing.assert_array_equal(smoothed[0], noisy[0])  # causal: the first frame is kept
    # changing a late frame never changes earlier output (streaming-safe)
    altered = noisy.copy()
    altered[150:] += 1.0
    np.testing.assert_array_equal(
        smooth_motion(altered, 25.0, SmoothingConfig(method="one-euro"))[:150], smoothed[:150]
    )
    still = np.tile(clean[:1], (100, 1)) + np.random.default_rng(1).normal(0, 0.05, (100, 73)).astype(
        np.float32
    )
    assert _error(smooth_motion(still, 25.0, SmoothingConfig(method="one-euro")), clean[:1]) < 0.6 * _error(
        still, clean[:1]
    )


def test_constant_motion_is_unchanged_and_none_is_identity() -> None:
    still = np.tile(np.linspace(-1, 1, 73, dtype=np.float32), (30, 1))
    np.testing.assert_allclose(smooth_motion(still, 25.0), still, atol=1e-6)
    _, noisy = _jittery()
    np.testing.assert_array_equal(smooth_motion(noisy, 25.0, SmoothingConfig(method="none")), noisy)
    np.testing.assert_array_equal(smooth_motion(noisy, 25.0, SmoothingConfig.parse("gaussian:0")), noisy)


def test_parse() -> None:
    assert SmoothingConfig.parse("none").method == "none"
    assert SmoothingConfig.parse("gaussian:0.1").pose_sigma == 0.1
    assert SmoothingConfig.parse("one-euro:2").min_cutoff == 2.0
    for bad in ("median", "gaussian:x"):
        with pytest.raises(InputError):
            SmoothingConfig.parse(bad)
