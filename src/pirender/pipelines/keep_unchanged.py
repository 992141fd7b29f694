"""Keep what an edit does not change: the source's own pixels wherever the edit leaves the render alone.

A renderer never reproduces its source exactly (the SynthHead demo renderer's output of an unmoved
face is ~26-29 dB from the source: soft hair, soft background). For an edit that moves the mouth,
that reconstruction error covers the whole frame. With `keep_unchanged`, the renderer's output is
used only where the edit changes it: the change is measured between the render of the edited
coefficients and the render of the source's own coefficients (the reconstruction), so the renderer's
own error cancels out of the mask. Elsewhere the source crop is kept, with a feathered seam:

    change  = mean_rgb |edited - reconstruction|              (S, S), [0, 1] scale
    mask    = ramp(change; low, high), grown by `grow`, blurred by `feather`
    output  = source * (1 - mask) + edited * mask

Growth and feathering scale with the crop side (values below are for 128 px). With the source's own
coefficients the mask is zero and the output is the source itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class ChangeMaskConfig:
    low: float = 0.02  # mean |change| (0-1 scale) at or below which the source pixel is kept
    high: float = 0.06  # at or above which the edited render is used
    grow: float = 2.0  # pixels at 128 px: the changed region is dilated by this much
    feather: float = 2.0  # pixels at 128 px: Gaussian sigma of the seam
    reference_size: int = 128  # the crop side the pixel values above are given for


def change_mask(
    edited: np.ndarray, reconstruction: np.ndarray, config: ChangeMaskConfig = ChangeMaskConfig()
) -> np.ndarray:
    """Where an edit changes the render.

    Args:
        edited: (S, S, 3) uint8 render of the edited coefficients.
        reconstruction: (S, S, 3) uint8 render of the source's own coefficients.
    Returns:
        (S, S) float32 in [0, 1]: 1 = use the edited render, 0 = keep the source.
    """
    if edited.shape != reconstruction.shape:
        raise ValueError(f"edited {edited.shape} and reconstruction {reconstruction.shape} differ in shape")
    change = np.abs(edited.astype(np.float32) - reconstruction.astype(np.float32)).mean(axis=2) / 255.0
    mask = np.clip((change - config.low) / (config.high - config.low), 0.0, 1.0)
    scale = edited.shape[0] / config.reference_size
    grow = int(round(config.grow * scale))
    if grow > 0:
        mask = ndimage.grey_dilation(mask, size=(2 * grow + 1, 2 * grow + 1))
    if config.feather > 0:
        mask = ndimage.gaussian_filter(mask, sigma=config.feather * scale, mode="nearest")
    return mask.astype(np.float32)


def keep_unchanged(
    source: np.ndarray,
    edited: np.ndarray,
    reconstruction: np.ndarray,
    config: ChangeMaskConfig = ChangeMaskConfig(),
) -> np.ndarray:
    """The edited render where the edit changes it, the source elsewhere.

    Args:
        source: (S, S, 3) uint8 source crop; edited, reconstruction: as for `change_mask`.
    Returns:
        (S, S, 3) uint8.
    """
    mask = change_mask(edited, reconstruction, config)[..., None]
    out = source.astype(np.float32) * (1.0 - mask) + edited.astype(np.float32) * mask
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


__all__ = ["ChangeMaskConfig", "change_mask", "keep_unchanged"]
