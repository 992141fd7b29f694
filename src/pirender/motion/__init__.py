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
from pirender.motion.crop import CropInfo, CropTransform
from pirender.motion.formats import load_motion
from pirender.motion.sequence import Motion
from pirender.motion.smooth import SmoothingConfig, smooth_motion

__all__ = [
    "ANGLE",
    "COEFF_DIM",
    "CROP",
    "EXP",
    "POSE",
    "SEMANTIC_RADIUS",
    "TRANS",
    "CropInfo",
    "CropTransform",
    "Motion",
    "SmoothingConfig",
    "load_motion",
    "motion_windows",
    "smooth_motion",
    "window_indices",
]
