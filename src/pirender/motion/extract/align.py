"""Deep3DFaceRecon's 5-landmark alignment (spec section 13), written from its description.

Given five 2D landmarks in an image of size (w0, h0) — left-eye centre, right-eye centre, nose tip,
left mouth corner, right mouth corner, "left" meaning image-left — with y measured from the bottom
(y' = h0 - 1 - y), a least-squares weak-perspective fit (POS) of five standard 3D landmarks gives a
scale s_pos and a translation t = (tx, ty). The transform parameters are (w0, h0, s, tx, ty) with
s = 102 / s_pos; the aligned image is the source resized with PIL bicubic to (int(w0 s), int(h0 s))
and cut at the truncated integer offsets of a 224 x 224 window centred on the translated face, with
zeros outside the image (`aligned_box`, `align_image`: the same pixels as `align_img`). PIRender's
crop values are (s, tx, ty).

The standard 3D landmarks of the alignment are Deep3DFaceRecon's (`similarity_Lm3D_all.mat`, 68
points reduced to five), shipped as `STANDARD_5`; a user's BFM folder may still be given and is then
read instead. The VoxCeleb-style crop of `motion.faces` uses `TEMPLATE_5`, our own rounded five-point
face in the same units (it defines our framing, within 1% of STANDARD_5).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pirender.errors import InputError
from pirender.motion.coeffs import REFERENCE_SIZE

ALIGNED_SIZE = 224  # Deep3DFaceRecon's network input
TARGET_SCALE = 102.0  # the `rescale` of align_img: s = TARGET_SCALE / s_pos

# Five landmarks (x right, y up, z towards the camera), in the BFM units of Deep3DFaceRecon, where a
# face at the camera's distance projects at ~102 px per unit. Our own average-face values (eye centres
# 0.62 apart), not taken from any BFM file.
TEMPLATE_5 = np.array(
    [
        [-0.31, 0.29, 0.13],  # left-eye centre (image left)
        [0.31, 0.29, 0.13],  # right-eye centre
        [0.00, -0.05, 0.55],  # nose tip
        [-0.25, -0.38, 0.22],  # left mouth corner
        [0.25, -0.38, 0.22],  # right mouth corner
    ]
)

# Deep3DFaceRecon's five standard 3D landmarks: its BFM/similarity_Lm3D_all.mat ('lm', 68 x 3) reduced
# as load_lm3d does (mean of 37/40, mean of 43/46, 31, 49, 55, in that order), to 8 decimals.
# Deep3DFaceRecon_pytorch, (c) sicxu, MIT licence (assets/NOTICE.md). What `align_img` fits to.
STANDARD_5 = np.array(
    [
        [-0.31148657, 0.29036078, 0.13377953],  # left-eye centre (image left)
        [0.30979887, 0.28972036, 0.13179526],  # right-eye centre
        [0.0032535, -0.04617932, 0.55244243],  # nose tip
        [-0.25216928, -0.38133916, 0.22405732],  # left mouth corner
        [0.2484662, -0.38128236, 0.22235769],  # right mouth corner
    ]
)

# 1-based 68-point indices that define the five points: eyes are means of their corners.
_LM68_TO_5 = ((37, 40), (43, 46), (31,), (49,), (55,))


def reduce_68_to_5(landmarks: np.ndarray) -> np.ndarray:
    """(68, D) landmarks -> (5, D): mean of 37/40, mean of 43/46, point 31, 49, 55 (1-based)."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape[0] != 68:
        raise ValueError(f"expected 68 landmarks, got {landmarks.shape}")
    return np.stack([landmarks[[i - 1 for i in group]].mean(axis=0) for group in _LM68_TO_5])


def load_standard_landmarks(bfm_dir: str | os.PathLike[str] | None = None) -> np.ndarray:
    """The five standard 3D landmarks (5, 3): from a Deep3DFaceRecon BFM folder, or STANDARD_5 (the
    same file's values, shipped) when `bfm_dir` is None."""
    import scipy.io

    if bfm_dir is None:
        return STANDARD_5.copy()
    path = Path(bfm_dir) / "similarity_Lm3D_all.mat"
    if not path.is_file():
        raise InputError(
            f"{path} not found: pass the Deep3DFaceRecon BFM folder (it holds similarity_Lm3D_all.mat); "
            "see docs/motion.md"
        )
    try:
        data = scipy.io.loadmat(str(path))
    except (ValueError, TypeError, OSError, NotImplementedError, scipy.io.matlab.MatReadError) as e:
        raise InputError(f"{path}: not a readable .mat file ({e})") from None
    if "lm" not in data or np.asarray(data["lm"]).shape != (68, 3):
        raise InputError(f"{path}: expected an array 'lm' of shape (68, 3)")
    return reduce_68_to_5(np.asarray(data["lm"], dtype=np.float64))


def pos_fit(points_2d: np.ndarray, points_3d: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares weak perspective: find a (2, 3) linear map A and t with points_2d ~ points_3d @ A.T + t.

    Args:
        points_2d: (N, 2) image points, y up.
        points_3d: (N, 3) model points.
    Returns:
        s_pos = mean of the two row norms of A, and t (2,).
    """
    points_2d = np.asarray(points_2d, dtype=np.float64)
    points_3d = np.asarray(points_3d, dtype=np.float64)
    n = len(points_3d)
    design = np.zeros((2 * n, 8))
    design[0::2, 0:3] = points_3d
    design[0::2, 3] = 1.0
    design[1::2, 4:7] = points_3d
    design[1::2, 7] = 1.0
    k, *_ = np.linalg.lstsq(design, points_2d.reshape(-1), rcond=None)
    s_pos = (np.linalg.norm(k[0:3]) + np.linalg.norm(k[4:7])) / 2.0
    return float(s_pos), np.array([k[3], k[7]])


def transform_params(landmarks: np.ndarray, image_size: tuple[int, int], standard: np.ndarray) -> np.ndarray:
    """Deep3DFaceRecon transform parameters of one image.

    Args:
        landmarks: (5, 2) pixel coordinates, x right, y DOWN (as detectors give them).
        image_size: (w0, h0).
        standard: (5, 3) standard 3D landmarks.
    Returns:
        (5,) float64 (w0, h0, s, tx, ty): s = 102 / s_pos, (tx, ty) in pixels with y from the bottom.
    """
    w0, h0 = image_size
    points = np.asarray(landmarks, dtype=np.float64).copy()
    points[:, 1] = h0 - 1 - points[:, 1]
    s_pos, t = pos_fit(points, standard)
    if not s_pos > 0:
        raise InputError("degenerate landmarks: alignment scale is zero")
    return np.array([w0, h0, TARGET_SCALE / s_pos, t[0], t[1]])


def aligned_box(params: np.ndarray) -> tuple[int, int, int, int]:
    """Where `align_img` cuts: (w, h) of the resized image and the (left, up) corner of the window.

    The whole image is resized to (int(w0 * s), int(h0 * s)) (truncated), and the 224 x 224 window
    starts at the truncated offsets int(w/2 - 112 + (tx - w0/2) * s), int(h/2 - 112 + (h0/2 - ty) * s).
    """
    w0, h0, s, tx, ty = (float(v) for v in params)
    w, h = int(w0 * s), int(h0 * s)
    half = ALIGNED_SIZE / 2
    left = int(w / 2 - half + (tx - w0 / 2) * s)
    up = int(h / 2 - half + (h0 / 2 - ty) * s)
    return w, h, left, up


def align_image(
    image: np.ndarray, landmarks: np.ndarray, standard: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`align_img`: (H, W, 3) uint8 image + (5, 2) landmarks (y down) -> ((224, 224, 3) uint8, params (5,)).

    The same pixels as Deep3DFaceRecon's: the image resized with PIL bicubic to the truncated size
    (`aligned_box`), the window cut at the truncated offsets, zeros where it leaves the image. Only
    what the window needs is computed, bit for bit as PIL's whole-image resize would: PIL's
    horizontal pass on the source rows the window's rows draw from, then its vertical pass (PIL's
    fixed-point bicubic weights, `_pil_bicubic_rows`) for the window's rows alone.
    """
    from PIL import Image

    image = np.ascontiguousarray(np.asarray(image)[..., :3])
    h0, w0 = image.shape[:2]
    params = transform_params(landmarks, (w0, h0), standard)
    w, h, left, up = aligned_box(params)
    if w < 1 or h < 1:
        raise InputError(f"degenerate alignment: the image would be resized to {w}x{h}")
    out = np.zeros((ALIGNED_SIZE, ALIGNED_SIZE, 3), np.uint8)
    x0, y0 = max(left, 0), max(up, 0)  # the part of the window inside the resized image
    x1, y1 = min(left + ALIGNED_SIZE, w), min(up + ALIGNED_SIZE, h)
    if x1 <= x0 or y1 <= y0:
        return out, params
    rows = _pil_bicubic_rows(h0, h, range(y0, y1)) if h != h0 else None
    r0, r1 = (min(a for a, _ in rows), max(a + len(k) for a, k in rows)) if rows else (y0, y1)
    band = image[r0:r1]
    if w != w0:  # PIL's horizontal pass, row by row: the same on a band of rows as on the whole image
        band = np.asarray(Image.fromarray(band).resize((w, r1 - r0), Image.BICUBIC))
    band = band[:, x0:x1].astype(np.int64)
    if rows is None:
        window = band
    else:
        window = np.empty((y1 - y0, x1 - x0, 3), np.int64)
        for i, (first, weights) in enumerate(rows):
            taps = band[first - r0 : first - r0 + len(weights)]
            window[i] = (
                (1 << (_PIL_PRECISION_BITS - 1)) + np.tensordot(weights, taps, axes=1)
            ) >> _PIL_PRECISION_BITS
    out[y0 - up : y1 - up, x0 - left : x1 - left] = np.clip(window, 0, 255)
    return out, params


_PIL_PRECISION_BITS = 32 - 8 - 2  # Pillow's fixed-point weights for 8-bit images (Resample.c)


def _pil_bicubic(x: float) -> float:
    """Pillow's bicubic kernel (a = -0.5)."""
    x = abs(x)
    if x < 1.0:
        return (1.5 * x - 2.5) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5
    return 0.0


def _pil_bicubic_rows(in_size: int, out_size: int, wanted: range) -> list[tuple[int, np.ndarray]]:
    """Pillow's resampling weights (as Resample.c's precompute_coeffs and normalize_coeffs_8bpc) for
    output positions `wanted` of a whole-axis resize in_size -> out_size: (first input index, int64
    fixed-point weights) each."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    rows = []
    for index in wanted:
        center = (index + 0.5) * scale
        first = max(int(center - support + 0.5), 0)
        last = min(int(center + support + 0.5), in_size)
        weights = [_pil_bicubic((x + first - center + 0.5) / filterscale) for x in range(last - first)]
        total = sum(weights)
        if total != 0.0:
            weights = [v / total for v in weights]
        fixed = [int(v * (1 << _PIL_PRECISION_BITS) + (-0.5 if v < 0 else 0.5)) for v in weights]
        rows.append((first, np.array(fixed, np.int64)))
    return rows


def to_reference_crop(params: np.ndarray, frame_size: int) -> np.ndarray:
    """(s, tx, ty) of a square frame of `frame_size` px, re-expressed for the official 256 px frame.

    Args:
        params: (..., 5) transform parameters.
    Returns:
        (..., 3) float32: s * size/256, tx * 256/size, ty * 256/size (unchanged at 256).
    """
    params = np.asarray(params, dtype=np.float64)
    k = frame_size / REFERENCE_SIZE
    return np.stack([params[..., 2] * k, params[..., 3] / k, params[..., 4] / k], axis=-1).astype(np.float32)


def crop_values_from_image(image: np.ndarray, *, standard: np.ndarray | None = None) -> np.ndarray:
    """Crop values (s, tx, ty) of a face image (a VoxCeleb-style crop), for the 256 px reference frame.

    Needs the faces extra (mediapipe) to find the landmarks; uses TEMPLATE_5 unless `standard` is given.
    """
    from pirender.motion.faces import FaceCropper

    image = np.asarray(image)
    h, w = image.shape[:2]
    if h != w:
        raise InputError(
            f"crop values need a square face crop, got a {w}x{h} image (run `pirender crop` first)"
        )
    with FaceCropper() as cropper:
        landmarks = cropper.landmarks5(image)
    params = transform_params(landmarks, (w, h), TEMPLATE_5 if standard is None else standard)
    return to_reference_crop(params, w)
