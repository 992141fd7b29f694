"""SynthHead identities: every appearance parameter of one synthetic person, drawn from a seed.

An `Identity` is plain data (a frozen dataclass of floats, tuples and small ints), so it can be
compared, hashed, printed and stored. `Identity.from_seed(seed)` is deterministic across
platforms: it only uses numpy's PCG64 generator. Geometry parameters are multipliers around 1.0
of a reference head in BFM-like units (face about 1.6 units wide, see `head.py`).
"""

from __future__ import annotations

import colorsys
from dataclasses import astuple, dataclass

import numpy as np

from pirender.errors import InputError

Colour = tuple[float, float, float]  # linear-ish RGB in [0, 1]

BACKGROUND_KINDS = ("solid", "gradient", "texture")
HAIR_STYLES = ("short", "long", "bald")


def _hsv(h: float, s: float, v: float) -> Colour:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (round(r, 4), round(g, 4), round(b, 4))


@dataclass(frozen=True)
class Identity:
    """Appearance of one synthetic head. Geometry values are multipliers (1.0 = reference head)."""

    seed: int
    # shape
    head_width: float
    head_height: float
    head_depth: float
    jaw_width: float
    chin: float  # chin length / protrusion
    cheeks: float
    nose_length: float
    nose_width: float
    nose_depth: float
    ear_size: float
    # skin and face features
    skin: Colour
    lip_colour: Colour
    lip_thickness: float
    mouth_width: float
    eye_spacing: float
    eye_size: float
    iris_colour: Colour
    brow_thickness: float
    brow_colour: Colour
    # hair
    hair_colour: Colour
    hair_style: str  # one of HAIR_STYLES
    hairline: float  # local y of the front hairline (higher = receding)
    hair_volume: float
    beard: float  # 0 = none, up to 1 = full stubble/beard darkening
    # accessories
    glasses: bool
    glasses_colour: Colour
    # scene
    shirt_colour: Colour
    background: str  # one of BACKGROUND_KINDS
    background_colours: tuple[Colour, Colour]
    light_direction: tuple[float, float, float]  # unit vector in camera space, towards the light

    @classmethod
    def from_seed(cls, seed: int) -> Identity:
        """Draw an identity deterministically from `seed` (any non-negative int)."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise InputError(f"identity seed must be a non-negative int, got {seed!r}")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED_4EAD]))

        def u(lo: float, hi: float) -> float:
            return round(float(rng.uniform(lo, hi)), 4)

        # Skin: a 1-D tone axis (light to dark) with a small hue variation, so every tone is plausible.
        tone = float(rng.uniform(0.0, 1.0))
        skin = _hsv(0.055 + rng.uniform(-0.015, 0.02), 0.28 + 0.32 * tone, 0.95 - 0.6 * tone)
        lip = _hsv(0.99 + rng.uniform(-0.03, 0.03), 0.45 + 0.2 * tone, 0.78 - 0.45 * tone)
        hair_kind = rng.uniform()
        if hair_kind < 0.55:  # dark browns / black
            hair = _hsv(0.07, rng.uniform(0.3, 0.7), rng.uniform(0.06, 0.3))
        elif hair_kind < 0.8:  # brown to blond
            hair = _hsv(rng.uniform(0.07, 0.12), rng.uniform(0.45, 0.75), rng.uniform(0.35, 0.85))
        elif hair_kind < 0.9:  # grey / white
            hair = _hsv(0.08, rng.uniform(0.0, 0.12), rng.uniform(0.55, 0.9))
        else:  # red or dyed
            hair = _hsv(rng.uniform(-0.05, 0.9), rng.uniform(0.55, 0.9), rng.uniform(0.45, 0.85))
        style = HAIR_STYLES[int(rng.choice(3, p=[0.55, 0.33, 0.12]))]
        iris = _hsv(rng.choice([0.08, 0.1, 0.33, 0.58, 0.6]), rng.uniform(0.4, 0.8), rng.uniform(0.25, 0.7))
        brow = tuple(round(c * 0.85, 4) for c in hair) if style != "bald" else _hsv(0.07, 0.5, 0.2)
        background = BACKGROUND_KINDS[int(rng.integers(3))]
        bg1 = _hsv(rng.uniform(), rng.uniform(0.05, 0.6), rng.uniform(0.25, 0.95))
        bg2 = _hsv(rng.uniform(), rng.uniform(0.05, 0.6), rng.uniform(0.15, 0.95))
        light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(0.1, 0.7), 1.0])
        light /= np.linalg.norm(light)
        return cls(
            seed=int(seed),
            head_width=u(0.9, 1.1),
            head_height=u(0.92, 1.08),
            head_depth=u(0.92, 1.08),
            jaw_width=u(0.82, 1.15),
            chin=u(0.85, 1.15),
            cheeks=u(0.8, 1.2),
            nose_length=u(0.8, 1.2),
            nose_width=u(0.8, 1.3),
            nose_depth=u(0.8, 1.2),
            ear_size=u(0.8, 1.2),
            skin=skin,
            lip_colour=lip,
            lip_thickness=u(0.75, 1.3),
            mouth_width=u(0.85, 1.15),
            eye_spacing=u(0.9, 1.1),
            eye_size=u(0.85, 1.15),
            iris_colour=iris,
            brow_thickness=u(0.7, 1.4),
            brow_colour=brow,  # type: ignore[arg-type]
            hair_colour=hair,
            hair_style=style,
            hairline=u(0.5, 0.8),
            hair_volume=u(0.0, 1.0),
            beard=round(float(max(0.0, rng.uniform(-1.2, 1.0))), 4),
            glasses=bool(rng.uniform() < 0.25),
            glasses_colour=_hsv(rng.uniform(), rng.uniform(0.0, 0.8), rng.uniform(0.05, 0.6)),
            shirt_colour=_hsv(rng.uniform(), rng.uniform(0.1, 0.8), rng.uniform(0.15, 0.9)),
            background=background,
            background_colours=(bg1, bg2),
            light_direction=tuple(round(float(c), 4) for c in light),  # type: ignore[arg-type]
        )

    def as_vector(self) -> np.ndarray:
        """All numeric parameters flattened into one float vector (for distinctness checks)."""
        values: list[float] = []
        for item in astuple(self)[1:]:
            if isinstance(item, str):
                values.append(
                    float(HAIR_STYLES.index(item) if item in HAIR_STYLES else BACKGROUND_KINDS.index(item))
                )
            elif isinstance(item, tuple):
                values.extend(float(x) for x in np.ravel(np.array(item, dtype=float)))
            else:
                values.append(float(item))
        return np.array(values, dtype=np.float64)
