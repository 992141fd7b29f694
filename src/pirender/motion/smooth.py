"""Temporal smoothing of extracted motion: per-frame regressors jitter, renderers amplify it.

Two filters, each applied per coefficient group with its own strength (expression moves faster than
the head, the crop hardly at all):

* "gaussian" (offline, zero-phase): a Gaussian over time with sigma in seconds, ends handled by
  repeating the edge frames. Best for files.
* "one-euro" (causal, streaming): Casiez et al. 2012's speed-adaptive low-pass; little lag on fast
  moves, strong smoothing when still. `min_cutoff` in Hz, `beta` the speed coefficient.

`SmoothingConfig(method="none")` (or all sigmas 0) returns the motion unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from pirender.errors import InputError
from pirender.motion.coeffs import ANGLE, COEFF_DIM, CROP, EXP, TRANS


@dataclass(frozen=True)
class SmoothingConfig:
    """How extracted motion is filtered over time."""

    method: Literal["none", "gaussian", "one-euro"] = "gaussian"
    exp_sigma: float = 0.03  # seconds (gaussian): under a frame's width at 25 fps keeps speech crisp
    pose_sigma: float = 0.06  # seconds (gaussian), angle and trans
    crop_sigma: float = 0.2  # seconds (gaussian)
    min_cutoff: float = 1.5  # Hz (one-euro)
    beta: float = 0.5  # (one-euro) cutoff increase per unit/s of speed

    def __post_init__(self) -> None:
        if self.method not in ("none", "gaussian", "one-euro"):
            raise InputError(f"smoothing method must be none, gaussian or one-euro, got {self.method!r}")
        if min(self.exp_sigma, self.pose_sigma, self.crop_sigma) < 0 or self.min_cutoff <= 0:
            raise InputError("smoothing sigmas must be >= 0 and min_cutoff > 0")

    @classmethod
    def parse(cls, text: str) -> SmoothingConfig:
        """From a CLI string: "none", "gaussian", "one-euro", or "gaussian:SIGMA" (seconds, all groups)."""
        method, _, value = text.partition(":")
        if method not in ("none", "gaussian", "one-euro"):
            raise InputError(f"--smooth: expected none, gaussian[:SECONDS] or one-euro, got {text!r}")
        if not value:
            return cls(method=method)  # type: ignore[arg-type]
        try:
            sigma = float(value)
        except ValueError:
            raise InputError(f"--smooth: {value!r} is not a number of seconds") from None
        if method == "one-euro":
            return cls(method=method, min_cutoff=sigma)
        return cls(method=method, exp_sigma=sigma, pose_sigma=sigma, crop_sigma=sigma)  # type: ignore[arg-type]


def smooth_motion(coeffs: np.ndarray, fps: float, config: SmoothingConfig | None = None) -> np.ndarray:
    """Filter motion over time.

    Args:
        coeffs: (T, 73) per-frame coefficients.
        fps: frame rate (filter widths are in seconds).
        config: SmoothingConfig(); None = defaults.
    Returns:
        (T, 73) float32 (a copy; unchanged values when the method is "none").
    """
    config = config or SmoothingConfig()
    coeffs = np.asarray(coeffs, dtype=np.float32)
    if coeffs.ndim != 2 or coeffs.shape[1] != COEFF_DIM:
        raise InputError(f"expected (T, {COEFF_DIM}) motion, got {coeffs.shape}")
    out = coeffs.copy()
    if config.method == "none" or len(coeffs) < 2:
        return out
    if config.method == "gaussian":
        from scipy.ndimage import gaussian_filter1d

        for group, sigma in ((EXP, config.exp_sigma), (ANGLE, config.pose_sigma), (TRANS, config.pose_sigma),
                             (CROP, config.crop_sigma)):  # fmt: skip
            if sigma * fps > 0:
                out[:, group] = gaussian_filter1d(coeffs[:, group], sigma * fps, axis=0, mode="nearest")
        return out
    return one_euro(coeffs, fps, min_cutoff=config.min_cutoff, beta=config.beta).astype(np.float32)


def one_euro(
    values: np.ndarray, fps: float, *, min_cutoff: float = 1.5, beta: float = 0.5, d_cutoff: float = 1.0
) -> np.ndarray:
    """One-euro filter along axis 0 of (T, D) values, each column independently (causal)."""
    values = np.asarray(values, dtype=np.float64)
    dt = 1.0 / fps

    def alpha(cutoff: np.ndarray | float) -> np.ndarray | float:
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    out = np.empty_like(values)
    out[0] = values[0]
    derivative = np.zeros(values.shape[1])
    for t in range(1, len(values)):
        raw_derivative = (values[t] - out[t - 1]) / dt
        derivative = derivative + alpha(d_cutoff) * (raw_derivative - derivative)
        a = alpha(min_cutoff + beta * np.abs(derivative))
        out[t] = out[t - 1] + a * (values[t] - out[t - 1])
    return out
