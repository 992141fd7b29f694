"""The coefficient layout, in one place.

A frame of motion is 73 float32 values, in the order the official model was trained with:

    [ exp 64 | angle 3 (pitch, yaw, roll; radians) | trans 3 (x, y, z) | crop 3 (s, tx, ty) ]

exp/angle/trans are Deep3DFaceRecon coefficients; the crop values are the `align_img` transform
parameters (s, tx, ty), fed to the network un-normalised (s ~ 1, tx/ty ~ 128 px).
The renderer sees a window of 2r+1 frames (r = 13) around the target frame, indices clamped to
the sequence ends, transposed to (73, 2r+1).

Rows of the official LMDB (`<video>-coeff_3dmm`) are 260 wide: 257 Deep3DFaceRecon values
[id 80 | exp 64 | tex 80 | angle 3 | gamma 27 | trans 3] followed by (s, tx, ty).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import numpy as np

from pirender.errors import InputError

if TYPE_CHECKING:
    import torch

WindowsT = TypeVar("WindowsT", "np.ndarray", "torch.Tensor")

COEFF_DIM = 73
EXP = slice(0, 64)
ANGLE = slice(64, 67)
TRANS = slice(67, 70)
POSE = slice(64, 70)  # angle + trans
CROP = slice(70, 73)
MOTION_DIM = 70  # exp + angle + trans: what an extractor or audio model predicts; crop comes from the image
SEMANTIC_RADIUS = 13

# Columns of a 257-value Deep3DFaceRecon coefficient vector.
D3D_DIM = 257
D3D_ID = slice(0, 80)
D3D_EXP = slice(80, 144)
D3D_TEX = slice(144, 224)
D3D_ANGLE = slice(224, 227)
D3D_GAMMA = slice(227, 254)
D3D_TRANS = slice(254, 257)
# The official LMDB appends (s, tx, ty); the single-image txt appends all five (w0, h0, s, tx, ty).
LMDB_ROW_DIM = 260
LMDB_CROP = slice(257, 260)
TXT_ROW_DIM = 262
TXT_CROP = slice(259, 262)
# Deep3DFaceRecon `transform_params` rows: (w0, h0, s, tx, ty); PIRender keeps (s, tx, ty).
TRANSFORM_DIM = 5
TRANSFORM_CROP = slice(2, 5)
# SadTalker's generated `coeff_3dmm` rows: exp 64 | angle 3 | trans 3 (no crop).
SADTALKER_DIM = MOTION_DIM
# Official data: VoxCeleb crops at 256 px, 25 fps; crop values (s, tx, ty) are in this frame size.
REFERENCE_SIZE = 256
DEFAULT_FPS = 25.0


def from_d3d(coeff: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """Assemble (T, 73) motion from Deep3DFaceRecon coefficients (T, 257) and crop values (T, 3)."""
    coeff = np.asarray(coeff, dtype=np.float32)
    crop = np.asarray(crop, dtype=np.float32)
    return np.concatenate([coeff[:, D3D_EXP], coeff[:, D3D_ANGLE], coeff[:, D3D_TRANS], crop], axis=1)


def with_crop(motion70: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """(T, 70) exp|angle|trans plus crop (3,) or (T, 3) -> (T, 73) float32."""
    motion70 = np.asarray(motion70, dtype=np.float32)
    if motion70.ndim != 2 or motion70.shape[1] != MOTION_DIM:
        raise ValueError(f"expected (T, {MOTION_DIM}) motion, got {motion70.shape}")
    crop = np.broadcast_to(np.asarray(crop, dtype=np.float32), (motion70.shape[0], 3))
    return np.concatenate([motion70, crop], axis=1)


def from_lmdb_rows(rows: np.ndarray) -> np.ndarray:
    """(T, 260) official LMDB rows -> (T, 73) motion (columns 80:144, 224:227, 254:257, 257:260)."""
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[1] != LMDB_ROW_DIM:
        raise ValueError(f"expected (T, {LMDB_ROW_DIM}) coefficient rows, got {rows.shape}")
    return from_d3d(rows[:, :D3D_DIM], rows[:, LMDB_CROP])


def to_lmdb_rows(motion: np.ndarray) -> np.ndarray:
    """(T, 73) motion -> (T, 260) official LMDB rows (id, tex and gamma columns zero)."""
    motion = np.asarray(motion, dtype=np.float32)
    rows = np.zeros((motion.shape[0], LMDB_ROW_DIM), dtype=np.float32)
    rows[:, D3D_EXP] = motion[:, EXP]
    rows[:, D3D_ANGLE] = motion[:, ANGLE]
    rows[:, D3D_TRANS] = motion[:, TRANS]
    rows[:, LMDB_CROP] = motion[:, CROP]
    return rows


def window_indices(num_frames: int, index: int, radius: int = SEMANTIC_RADIUS) -> np.ndarray:
    """Frame indices index-r .. index+r, clamped to [0, num_frames-1]."""
    if num_frames < 1:
        raise InputError("a motion needs at least one frame")
    return np.clip(np.arange(index - radius, index + radius + 1), 0, num_frames - 1)


def window_centres(windows: WindowsT) -> WindowsT:
    """(..., 73, 2r+1) windows, array or tensor -> (..., 73): each window's centre frame (its target)."""
    return windows[..., windows.shape[-1] // 2]


def motion_windows(
    motion: np.ndarray, indices: np.ndarray | None = None, radius: int = SEMANTIC_RADIUS
) -> np.ndarray:
    """Driving windows for the renderer.

    Args:
        motion: (T, 73) float per-frame coefficients.
        indices: target frames (N,); all T frames when None.
        radius: window radius r.
    Returns:
        (N, 73, 2r+1) float32 windows, frame axis last, ends clamped.
    """
    motion = np.asarray(motion, dtype=np.float32)
    if motion.ndim != 2 or motion.shape[1] != COEFF_DIM:
        raise InputError(f"expected (T, {COEFF_DIM}) motion, got {motion.shape}")
    num_frames = motion.shape[0]
    if indices is None:
        indices = np.arange(num_frames)
    offsets = np.arange(-radius, radius + 1)
    idx = np.clip(np.asarray(indices)[:, None] + offsets[None, :], 0, num_frames - 1)  # (N, 2r+1)
    return np.ascontiguousarray(motion[idx].transpose(0, 2, 1))


def constant_windows(coeffs: np.ndarray, window: int) -> np.ndarray:
    """Each frame's vector repeated over the whole window, as the official intuitive-control demo does.

    A still edit has no temporal context: the window of frame t is frame t repeated, not its
    neighbours in a sweep (a sweep frame then looks the same as the same edit rendered alone).

    Args:
        coeffs: (N, 73) per-frame coefficients.
        window: frames per window (2r+1).
    Returns:
        (N, 73, window) float32.
    """
    coeffs = np.asarray(coeffs, dtype=np.float32)
    if coeffs.ndim != 2 or coeffs.shape[1] != COEFF_DIM:
        raise ValueError(f"expected (N, {COEFF_DIM}) coefficients, got {coeffs.shape}")
    return np.ascontiguousarray(np.repeat(coeffs[:, :, None], window, axis=2))


def check_coeffs(
    coeffs: np.ndarray, *, name: str = "coefficients", frames: bool = True, renderable: bool = True
) -> np.ndarray:
    """The (T, 73) contract, checked in this one place: validate and return float32 coefficients.

    Args:
        coeffs: (T, 73) when `frames`, else (73,).
        name: what to call them in the error message.
        renderable: also require a positive crop scale s, as rendering does (a `Motion` holds any
            finite coefficients; it is checked again where it is rendered).
    Raises:
        InputError: wrong shape, zero frames, NaN or infinite values, (renderable) s <= 0.
    """
    array = np.asarray(coeffs, dtype=np.float32)
    expected = f"(T, {COEFF_DIM})" if frames else f"({COEFF_DIM},)"
    if frames and (array.ndim != 2 or array.shape[1] != COEFF_DIM):
        raise InputError(f"{name}: expected {expected} coefficients, got shape {array.shape}")
    if not frames and array.shape != (COEFF_DIM,):
        raise InputError(f"{name}: expected {expected} coefficients, got shape {array.shape}")
    if frames and array.shape[0] == 0:
        raise InputError(f"{name}: the motion has 0 frames")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name}: coefficients contain NaN or infinite values")
    if renderable and np.any(array[..., CROP.start] <= 0):
        raise InputError(f"{name}: crop scale s (column {CROP.start}) must be positive")
    return array
