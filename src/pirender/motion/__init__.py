"""Motion descriptors: the coefficient layout, windows, files and extraction from images and videos."""

from pirender.motion.coeffs import (
    ANGLE,
    COEFF_DIM,
    CROP,
    EXP,
    POSE,
    SEMANTIC_RADIUS,
    TRANS,
    motion_windows,
    window_indices,
)

__all__ = [
    "ANGLE",
    "COEFF_DIM",
    "CROP",
    "EXP",
    "POSE",
    "SEMANTIC_RADIUS",
    "TRANS",
    "motion_windows",
    "window_indices",
]
