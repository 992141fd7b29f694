"""Per-frame painting of the moving face features into the frontal face texture.

Everything is in head-local units (x to the image right = the subject's left, y up). Each painter
touches only the texture rectangle around its feature, so the cost of a frame is independent of
the texture size. Expression controls (see expression.py) change the feature shapes:

* eyes: lid opening (blink_left/right close a lid fully, so the iris disappears; squint lifts the
  lower lid; brow_raise widens), iris, pupil and a catch-light;
* brows: height (brow_raise), inner ends down and together (brow_furrow), frown lines;
* mouth: width (smile, lip_stretch, pucker), corner height (smile, frown), lip thickness, and an
  opening (jaw_open) showing the dark interior, upper and lower teeth and the tongue.
"""

from __future__ import annotations

import numpy as np

from pirender.synth.identity import Identity
from pirender.synth.textures import FaceTexture

_SCLERA = np.array([0.93, 0.91, 0.88], np.float32)
_PUPIL = np.array([0.03, 0.02, 0.02], np.float32)
_LASH = np.array([0.06, 0.04, 0.04], np.float32)
_INTERIOR = np.array([0.22, 0.05, 0.06], np.float32)
_TEETH = np.array([0.95, 0.93, 0.86], np.float32)
_TONGUE = np.array([0.78, 0.32, 0.35], np.float32)


def _sat(x: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, 0.0), 1.0)  # np.clip's wrapper costs more than the work here


def paint_features(tex: FaceTexture, identity: Identity, geometry: dict, expr: dict[str, float]) -> None:
    """Paint brows, eyes and mouth for expression values `expr` into `tex` (in place)."""
    edge = 1.2 / tex.density  # antialiasing width: about one texel
    for side, blink in ((1.0, expr["blink_left"]), (-1.0, expr["blink_right"])):
        _paint_eye(tex, identity, geometry, expr, side, blink, edge)
        _paint_brow(tex, identity, geometry, expr, side, edge)
    _paint_mouth(tex, identity, geometry, expr, edge)


def _paint_eye(
    tex, identity: Identity, geo: dict, expr: dict, side: float, blink: float, edge: float
) -> None:
    cx, cy = side * geo["eye_x"], geo["eye_y"]
    ew = 0.125 * identity.eye_size
    region, xs, ys = tex.rect(cx - ew - 0.06, cx + ew + 0.06, cy - 0.12, cy + 0.13)
    u = (xs - cx) / ew
    bulge = np.sqrt(_sat(1.0 - u * u))
    skew = 0.012 * side * u  # outer corner a little higher: an almond, not a lemon
    open_up = (1.0 - blink) * (1.0 + 0.35 * expr["brow_raise"] - 0.3 * expr["squint"])
    open_lo = (1.0 - blink) * (1.0 - 0.6 * expr["squint"])
    closed_y = cy - 0.012
    upper = closed_y + skew + 0.072 * identity.eye_size * open_up * bulge**0.8
    lower = closed_y + skew - 0.04 * identity.eye_size * open_lo * bulge
    # Socket shadow and the lid crease, always present.
    socket = np.exp(-(((xs - cx) / (ew * 1.25)) ** 2 + ((ys - cy - 0.01) / 0.095) ** 2))
    tex.blend(region, 0.16 * socket, np.array([0.28, 0.16, 0.16], np.float32))
    crease_y = closed_y + 0.1 * identity.eye_size * (1.0 + 0.3 * expr["brow_raise"]) * bulge**0.6
    crease = np.exp(-(((ys - crease_y) / 0.008) ** 2)) * _sat((1.0 - np.abs(u)) * 4.0)
    tex.blend(region, 0.25 * crease, np.array([0.25, 0.14, 0.12], np.float32))
    inside = (
        _sat((upper - ys) / edge + 0.5)
        * _sat((ys - lower) / edge + 0.5)
        * _sat((1.0 - np.abs(u)) * ew / edge)
    )
    # Eyeball: sclera, iris (radial darkening), pupil, catch-light; painted only inside the lids.
    ball = np.broadcast_to(_SCLERA, inside.shape + (3,)).copy()
    ball *= (0.8 + 0.2 * bulge)[..., None]
    ir = 0.052 * identity.eye_size
    r = np.sqrt((xs - cx) ** 2 + (ys - cy + 0.004) ** 2) / ir
    iris_col = np.asarray(identity.iris_colour, np.float32) * (1.15 - 0.45 * _sat(r))[..., None]
    iris_a = _sat((1.0 - r) * ir / edge + 0.5)[..., None]
    ball += iris_a * (iris_col - ball)
    pupil_a = _sat((0.42 - r) * ir / edge + 0.5)[..., None]
    ball += pupil_a * (_PUPIL - ball)
    glint = np.exp(-(((xs - cx - 0.35 * ir) ** 2 + (ys - cy - 0.35 * ir) ** 2) / (0.18 * ir) ** 2))[..., None]
    ball += 0.8 * glint * (1.0 - ball)
    tex.blend(region, inside, ball)
    # Lash line along the upper lid (a closed eye shows it as one dark curve) and a faint lower line.
    near = _sat((1.08 - np.abs(u)) * 6.0)
    lash = np.exp(-(((ys - upper - 0.004) / (0.011 + 0.004 * blink)) ** 2)) * near
    tex.blend(region, 0.9 * lash, _LASH)
    tex.blend(region, 0.3 * np.exp(-(((ys - lower + 0.003) / 0.006) ** 2)) * near * (1.0 - blink), _LASH)


def _paint_brow(tex, identity: Identity, geo: dict, expr: dict, side: float, edge: float) -> None:
    raise_, furrow = expr["brow_raise"], expr["brow_furrow"]
    bw = 0.16
    cx = side * (geo["eye_x"] + 0.01 - 0.035 * furrow)
    by = geo["brow_y"] + 0.075 * raise_ - 0.03 * furrow
    region, xs, ys = tex.rect(cx - bw - 0.05, cx + bw + 0.05, by - 0.12, by + 0.08)
    u = (xs - cx) / bw
    inner = _sat(-side * u)  # 1 at the brow's inner end (towards the nose)
    centre_y = by + 0.035 * (1.0 - u * u) - 0.06 * furrow * inner + 0.015 * raise_ * inner
    thick = 0.036 * identity.brow_thickness * (1.0 - 0.45 * _sat(side * u)) + 0.004
    alpha = _sat((thick / 2 - np.abs(ys - centre_y)) / edge + 0.5) * _sat((1.0 - np.abs(u)) * bw / edge)
    # Hair-like streaks along the brow.
    streak = 0.75 + 0.25 * np.cos(xs * 260.0 + ys * 90.0 * side)
    tex.blend(region, 0.92 * alpha * streak, identity.brow_colour)
    if furrow > 0:  # vertical frown lines between the brows, painted by the inner side only
        line_x = side * 0.045
        lines = np.exp(-(((xs - line_x) / 0.01) ** 2)) * np.exp(-(((ys - by + 0.05) / 0.06) ** 2))
        tex.blend(
            region, 0.55 * furrow * lines, np.array([0.3, 0.17, 0.15], np.float32) * np.asarray(identity.skin)
        )


def _paint_mouth(tex, identity: Identity, geo: dict, expr: dict, edge: float) -> None:
    smile, frown = expr["smile"], expr["frown"]
    pucker, stretch, puff = expr["pucker"], expr["lip_stretch"], expr["cheek_puff"]
    mx = geo["mouth_x"] + 0.1 * expr["mouth_shift"]
    my = geo["mouth_y"]
    mw = 0.2 * identity.mouth_width * (1.0 + 0.22 * smile + 0.3 * stretch - 0.38 * pucker - 0.1 * puff)
    region, xs, ys = tex.rect(mx - mw - 0.12, mx + mw + 0.12, my - geo["jaw_drop"] - 0.17, my + 0.1)
    u = (xs - mx) / mw
    taper = np.sqrt(_sat(1.0 - u * u))
    line = my + (0.055 * smile - 0.05 * frown) * u * u - 0.01 * frown
    gap = geo["jaw_drop"] * taper**0.8  # the lower lip follows the jaw
    top = line + 0.12 * gap
    bottom = line - 0.88 * gap
    lip_scale = identity.lip_thickness * (1.0 + 0.6 * pucker - 0.45 * stretch - 0.15 * smile - 0.3 * puff)
    upper_t = 0.036 * lip_scale * (0.35 + 0.65 * taper) * (1.0 - 0.25 * np.exp(-((u / 0.18) ** 2)))
    lower_t = 0.048 * lip_scale * (0.3 + 0.7 * taper)
    across = _sat((1.0 - np.abs(u)) * mw / edge + 0.5)
    lip_col = np.asarray(identity.lip_colour, np.float32)
    # Smile folds from the nose wings to the mouth corners.
    fold_x = np.abs(xs - mx) - (mw + 0.04) - 0.06 * _sat((ys - my) / 0.2)
    fold = np.exp(-((fold_x / 0.015) ** 2)) * _sat((my + 0.22 - ys) / 0.05) * _sat((ys - my + 0.06) / 0.05)
    tex.blend(
        region,
        (0.1 + 0.35 * smile) * fold,
        np.array([0.35, 0.2, 0.18], np.float32) * np.asarray(identity.skin),
    )
    upper_a = _sat((top + upper_t - ys) / edge + 0.5) * _sat((ys - top) / edge + 0.5) * across
    lower_a = _sat((bottom - ys) / edge + 0.5) * _sat((ys - (bottom - lower_t)) / edge + 0.5) * across
    shade_lo = (1.0 + 0.25 * _sat((ys - bottom + lower_t) / (lower_t + 1e-6)))[..., None]
    tex.blend(region, upper_a, lip_col * 0.88)
    tex.blend(region, lower_a, np.clip(lip_col * shade_lo, 0, 1))
    # The opening: dark interior, a row of upper teeth, lower teeth and the tongue.
    open_a = _sat((top - ys) / edge + 0.5) * _sat((ys - bottom) / edge + 0.5) * across
    if gap.max() > 0:
        inside = np.broadcast_to(_INTERIOR, open_a.shape + (3,)).copy()
        tooth_gaps = 0.85 + 0.15 * np.cos((xs - mx) * 2.0 * np.pi / 0.034) ** 8
        upper_teeth = _sat((ys - (top - 0.045)) / edge + 0.5) * _sat((0.78 - np.abs(u)) * 8.0) * tooth_gaps
        lower_teeth = _sat(((bottom + 0.022) - ys) / edge + 0.5) * _sat((0.62 - np.abs(u)) * 8.0) * tooth_gaps
        tongue_r = ((xs - mx) / (0.55 * mw)) ** 2 + ((ys - bottom - 0.01) / (0.55 * gap.max() + 1e-6)) ** 2
        tongue = _sat((1.0 - tongue_r) * 4.0)
        inside += tongue[..., None] * (_TONGUE - inside)
        inside += upper_teeth[..., None] * (_TEETH - inside)
        inside += lower_teeth[..., None] * (_TEETH * 0.9 - inside)
        depth = (0.55 + 0.45 * _sat((top - ys) / 0.03))[..., None]  # shadow under the upper lip
        tex.blend(region, open_a, inside * depth)
    # A closed mouth still shows the dark line between the lips.
    seam = np.exp(-(((ys - line) / 0.0065) ** 2)) * _sat((1.04 - np.abs(u)) * 8.0) * (1.0 - _sat(gap / 0.02))
    tex.blend(region, 0.75 * seam, _INTERIOR * 0.6)
