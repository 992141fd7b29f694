"""The Deep3DFaceRecon camera and the `align_img` crop, as SynthHead uses them (spec section 13).

Head-local points v (BFM-like units, x to the image right, y up, z towards the camera) are moved by

    R = Rz(roll) @ Ry(yaw) @ Rx(pitch),   angle = (pitch, yaw, roll) = coeffs[64:67]
    world = v @ R.T + trans,               trans = coeffs[67:70]

then seen by a pinhole camera at world z = 10 looking towards -z: depth z' = 10 - z, focal 1015 px,
principal point (112, 112) on the 224 x 224 aligned frame, y up.

The aligned frame came from the original 256 x 256 image by `align_img`: the image was resized by s
and a 224 window centred on (tx, ty) (original pixels, y measured from the bottom) was cropped. So
an aligned point p maps back to the original image at (p - 112) / s + (tx, ty) (y up), and to an
output image of `size` pixels by the factor size / 256 (rows counted from the top).
"""

from __future__ import annotations

import numpy as np

FOCAL = 1015.0
CENTER = 112.0
CAMERA_DISTANCE = 10.0
ORIGINAL_SIZE = 256.0


def rotation_matrix(angles: np.ndarray) -> np.ndarray:
    """R = Rz(angles[2]) @ Ry(angles[1]) @ Rx(angles[0]), (3, 3) float64; angles (pitch, yaw, roll) in radians."""
    x, y, z = (float(a) for a in angles)
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


def output_to_aligned(col: np.ndarray, row: np.ndarray, crop: np.ndarray, size: int) -> tuple:
    """Output pixel coordinates (col, row; pixel centres at integers) -> aligned-frame (x, y-up)."""
    s, tx, ty = (float(c) for c in crop)
    scale = ORIGINAL_SIZE / size
    x_orig = (np.asarray(col, dtype=np.float64) + 0.5) * scale - 0.5
    y_orig_up = (ORIGINAL_SIZE - 1.0) - ((np.asarray(row, dtype=np.float64) + 0.5) * scale - 0.5)
    return (x_orig - tx) * s + CENTER, (y_orig_up - ty) * s + CENTER


def aligned_to_output(x: np.ndarray, y: np.ndarray, crop: np.ndarray, size: int) -> tuple:
    """Inverse of output_to_aligned: aligned (x, y-up) -> output (col, row)."""
    s, tx, ty = (float(c) for c in crop)
    scale = size / ORIGINAL_SIZE
    x_orig = (np.asarray(x, dtype=np.float64) - CENTER) / s + tx
    y_orig_up = (np.asarray(y, dtype=np.float64) - CENTER) / s + ty
    row_orig = (ORIGINAL_SIZE - 1.0) - y_orig_up
    return (x_orig + 0.5) * scale - 0.5, (row_orig + 0.5) * scale - 0.5


def project(points: np.ndarray, coeffs: np.ndarray, size: int) -> np.ndarray:
    """Head-local points (N, 3) -> output pixel coordinates (N, 2) as (col, row), for 73-value coeffs."""
    coeffs = np.asarray(coeffs, dtype=np.float64)
    world = np.asarray(points, dtype=np.float64) @ rotation_matrix(coeffs[64:67]).T + coeffs[67:70]
    depth = CAMERA_DISTANCE - world[:, 2]
    x = FOCAL * world[:, 0] / depth + CENTER
    y = FOCAL * world[:, 1] / depth + CENTER
    col, row = aligned_to_output(x, y, coeffs[70:73], size)
    return np.stack([col, row], axis=1)


def pixel_rays(col: np.ndarray, row: np.ndarray, coeffs: np.ndarray, size: int) -> tuple:
    """Camera rays through output pixels, expressed in head-local coordinates.

    Args:
        col, row: (N,) output pixel coordinates (pixel centres at integers; sub-pixel allowed).
        coeffs: (73,) motion coefficients (angle, trans and crop are used).
        size: output image size in pixels.
    Returns:
        origin (3,) float32, the camera centre in head-local coordinates, and directions (3, N)
        float32 (not normalised; the world-space direction has z = -1, so t is camera depth).
    """
    rot = rotation_matrix(coeffs[64:67])
    x_al, y_al = output_to_aligned(col, row, coeffs[70:73], size)
    dx = ((x_al - CENTER) / FOCAL).astype(np.float32)
    dy = ((y_al - CENTER) / FOCAL).astype(np.float32)
    # local = R^T (world - trans): for a world direction (dx, dy, -1) that is dx*R[0] + dy*R[1] - R[2].
    r = rot.astype(np.float32)
    directions = r[0][:, None] * dx[None, :] + r[1][:, None] * dy[None, :] - r[2][:, None]
    return _origin(rot, coeffs), directions


def pixel_grid_rays(coeffs: np.ndarray, size: int) -> tuple:
    """Rays through every output pixel centre, row-major: origin (3,) and directions (3, size*size)."""
    rot = rotation_matrix(coeffs[64:67])
    idx = np.arange(size, dtype=np.float64)
    x_al, _ = output_to_aligned(idx, idx, coeffs[70:73], size)
    _, y_al = output_to_aligned(idx, idx, coeffs[70:73], size)
    dx = ((x_al - CENTER) / FOCAL).astype(np.float32)  # per column
    dy = ((y_al - CENTER) / FOCAL).astype(np.float32)  # per row
    r = rot.astype(np.float32)
    directions = np.empty((3, size, size), dtype=np.float32)
    for axis in range(3):
        np.add(dy[:, None] * r[1, axis], dx[None, :] * r[0, axis] - r[2, axis], out=directions[axis])
    return _origin(rot, coeffs), directions.reshape(3, -1)


def _origin(rot: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    trans = np.asarray(coeffs[67:70], dtype=np.float64)
    return (rot.T @ (np.array([0.0, 0.0, CAMERA_DISTANCE]) - trans)).astype(np.float32)
