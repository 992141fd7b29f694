"""How a driving motion becomes the source's motion: absolute (official) or relative transfer.

Both are pure numpy functions of (T, 73) coefficient arrays (layout in `pirender.motion.coeffs`):

* **absolute** -- the driving coefficients as they are, with only the crop scale s rescaled the way the
  official cross-identity inference does it (spec section 5, `inference.py --cross_id`, step 3): find
  the driving frame closest to the source (0.3 * mean|d exp| + 0.7 * mean|d angle|) and multiply the s
  of every driving frame by s_source / s_driving(that frame). Nothing else of the source survives, so
  the result takes on the driver's expression and head pose exactly. For the same identity (the source
  is a frame of the driving video) the closest frame is the source frame itself and s is unchanged.
* **relative** -- the driving motion's change from a reference frame (frame 0) applied to the source's
  own coefficients. The source keeps its own expression and pose at rest; a driver who smiles wider
  makes the source smile wider. The default across identities, where absolute transfer would also
  copy the driver's face shape (Deep3DFaceRecon's expression coefficients are not identity-free) and
  rest pose.

Relative transfer of the crop values (s, tx, ty): s is a scale, so it moves by the driver's ratio
s_t / s_0; (tx, ty) are pixels of the driver's frame, so their change is re-expressed in the source's
pixels by the ratio of face sizes in the two frames (face size in the frame is proportional to 1/s).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from pirender.errors import InputError
from pirender.motion.coeffs import ANGLE, CROP, EXP, MOTION_DIM, check_coeffs

MotionMode = Literal["absolute", "relative"]
MOTION_MODES: tuple[str, ...] = ("absolute", "relative")

# Weights of the official cross-id frame match: expression and head angle distances.
MATCH_EXP_WEIGHT = 0.3
MATCH_ANGLE_WEIGHT = 0.7

_S, _TXY = CROP.start, slice(CROP.start + 1, CROP.stop)


def closest_frame(driving: np.ndarray, source: np.ndarray) -> int:
    """Index of the driving frame most like the source (official cross-id match).

    Args:
        driving: (T, 73) driving coefficients.
        source: (73,) source coefficients.
    Returns:
        argmin over t of 0.3 * mean|exp_t - exp_src| + 0.7 * mean|angle_t - angle_src|.
    """
    exp_distance = np.abs(driving[:, EXP] - source[EXP]).mean(axis=1)
    angle_distance = np.abs(driving[:, ANGLE] - source[ANGLE]).mean(axis=1)
    return int(np.argmin(MATCH_EXP_WEIGHT * exp_distance + MATCH_ANGLE_WEIGHT * angle_distance))


def absolute_motion(driving: np.ndarray, source: np.ndarray, *, normalize_crop: bool = True) -> np.ndarray:
    """Driving coefficients as they are, crop scale normalised to the source (official cross-id).

    Args:
        driving: (T, 73) driving coefficients.
        source: (73,) the source image's own coefficients.
        normalize_crop: rescale s by s_source / s_driving(closest frame); False = coefficients untouched.
    Returns:
        (T, 73) float32.
    """
    driving = check_coeffs(driving, name="driving motion")
    source = check_coeffs(source, name="source coefficients", frames=False)
    out = driving.copy()
    if normalize_crop:
        k = closest_frame(driving, source)
        out[:, _S] *= source[_S] / driving[k, _S]
    return out


def relative_motion(driving: np.ndarray, source: np.ndarray, *, reference: int = 0) -> np.ndarray:
    """The driving motion's change from its reference frame, applied to the source's coefficients.

    Args:
        driving: (T, 73) driving coefficients.
        source: (73,) the source image's own coefficients.
        reference: driving frame taken as "rest" (the issue's definition: the first frame).
    Returns:
        (T, 73) float32: exp/angle/trans = source + (driving_t - driving_ref); s = s_src * s_t / s_ref;
        (tx, ty) = source + (driving_t - driving_ref) * s_ref / s_src.
    """
    driving = check_coeffs(driving, name="driving motion")
    source = check_coeffs(source, name="source coefficients", frames=False)
    if not -len(driving) <= reference < len(driving):
        raise InputError(f"reference frame {reference} is outside the {len(driving)}-frame motion")
    rest = driving[reference]
    out = np.empty_like(driving)
    out[:, :MOTION_DIM] = source[:MOTION_DIM] + (driving[:, :MOTION_DIM] - rest[:MOTION_DIM])
    out[:, _S] = source[_S] * driving[:, _S] / rest[_S]
    out[:, _TXY] = source[_TXY] + (driving[:, _TXY] - rest[_TXY]) * (rest[_S] / source[_S])
    return out


def transfer_motion(driving: np.ndarray, source: np.ndarray, mode: MotionMode) -> np.ndarray:
    """Dispatch on `mode` ("absolute" or "relative"); (T, 73), (73,) -> (T, 73)."""
    if mode == "absolute":
        return absolute_motion(driving, source)
    if mode == "relative":
        return relative_motion(driving, source)
    raise InputError(f"motion mode must be one of {', '.join(MOTION_MODES)}, got {mode!r}")
