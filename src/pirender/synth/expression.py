"""SynthHead's named expression controls and the neutral coefficient vector.

The first slots of the 64 expression coefficients are named controls; slots from
len(EXPRESSION_CONTROLS) to 63 are ignored by the renderer (they stay 0 in generated motion).
A control is 0 at rest and 1 at its full, clearly visible extent; values are clipped to each
control's valid range (`CONTROL_RANGES`), so the renderer never extrapolates into nonsense.
"""

from __future__ import annotations

import numpy as np

from pirender.motion import coeffs as layout

EXPRESSION_CONTROLS: dict[str, int] = {
    "jaw_open": 0,  # chin drops, mouth opens: interior, teeth, tongue appear
    "smile": 1,  # mouth corners up and out, cheeks rise
    "frown": 2,  # mouth corners down
    "pucker": 3,  # lips pushed together and forward (narrow mouth, fuller lips)
    "lip_stretch": 4,  # mouth wide and thin
    "blink_left": 5,  # the subject's left eye (image right) closes
    "blink_right": 6,  # the subject's right eye (image left) closes
    "brow_raise": 7,  # both brows up, eyes slightly wider
    "brow_furrow": 8,  # brows down and together, frown lines between them
    "cheek_puff": 9,  # cheeks inflate (geometry), lips pressed
    "squint": 10,  # both eyes narrowed from below
    "mouth_shift": 11,  # mouth moves to the subject's left (+) or right (-)
}
NUM_CONTROLS = len(EXPRESSION_CONTROLS)
# The controls speech drives: a dub's mouth group (pipelines.video_edits) and synth.motion's mouth edits.
MOUTH_CONTROLS = ("jaw_open", "pucker", "lip_stretch")

# Valid range per control; the renderer clips to these.
CONTROL_RANGES: dict[str, tuple[float, float]] = {name: (0.0, 1.0) for name in EXPRESSION_CONTROLS}
CONTROL_RANGES["mouth_shift"] = (-1.0, 1.0)

# Neutral framing: the head centred in a 256-px VoxCeleb-like crop.
NEUTRAL_CROP = (1.2, 128.0, 128.0)
NEUTRAL_TRANS = (0.0, 0.0, 0.0)


def neutral_coeffs() -> np.ndarray:
    """(73,) float32: zero expression and rotation, trans (0, 0, 0), crop (s=1.2, tx=128, ty=128)."""
    coeffs = np.zeros(layout.COEFF_DIM, dtype=np.float32)
    coeffs[layout.TRANS] = NEUTRAL_TRANS
    coeffs[layout.CROP] = NEUTRAL_CROP
    return coeffs


def expression_values(coeffs: np.ndarray) -> dict[str, float]:
    """Named, clipped control values of one (73,) coefficient vector."""
    exp = np.asarray(coeffs, dtype=np.float64)[layout.EXP]
    values = {}
    for name, slot in EXPRESSION_CONTROLS.items():
        lo, hi = CONTROL_RANGES[name]
        values[name] = float(np.clip(exp[slot], lo, hi))
    return values


def with_controls(base: np.ndarray | None = None, **controls: float) -> np.ndarray:
    """A copy of `base` (default neutral) with named controls set, e.g. with_controls(jaw_open=1.0)."""
    coeffs = neutral_coeffs() if base is None else np.array(base, dtype=np.float32, copy=True)
    for name, value in controls.items():
        if name not in EXPRESSION_CONTROLS:
            raise KeyError(f"unknown expression control {name!r}; known: {', '.join(EXPRESSION_CONTROLS)}")
        coeffs[EXPRESSION_CONTROLS[name]] = value
    return coeffs
