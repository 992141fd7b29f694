"""Contact sheet: identities (rows) x expressions and poses (columns), labelled."""

from __future__ import annotations

import numpy as np

from pirender.synth.expression import neutral_coeffs, with_controls
from pirender.synth.head import SynthHead

# (label, coefficient recipe) per column; angles are (pitch, yaw, roll) in radians.
PREVIEW_COLUMNS: tuple[tuple[str, dict[str, float], tuple[float, float, float]], ...] = (
    ("neutral", {}, (0.0, 0.0, 0.0)),
    ("jaw_open", {"jaw_open": 1.0}, (0.0, 0.0, 0.0)),
    ("smile", {"smile": 1.0}, (0.0, 0.0, 0.0)),
    ("pucker+brow_raise", {"pucker": 1.0, "brow_raise": 1.0}, (0.0, 0.0, 0.0)),
    ("furrow+frown+puff", {"brow_furrow": 1.0, "frown": 1.0, "cheek_puff": 1.0}, (0.0, 0.0, 0.0)),
    ("blink_left+squint", {"blink_left": 1.0, "squint": 0.6}, (0.0, 0.0, 0.0)),
    ("yaw +0.5", {}, (0.0, 0.5, 0.0)),
    ("yaw -0.8", {}, (0.0, -0.8, 0.0)),
    ("pitch +0.3, roll 0.2", {}, (0.3, 0.0, 0.2)),
    ("pitch -0.3 talk", {"jaw_open": 0.5, "lip_stretch": 0.6}, (-0.3, 0.25, 0.0)),
)


def contact_sheet(seeds: list[int], size: int = 128, label: bool = True) -> np.ndarray:
    """(rows * size + header, len(PREVIEW_COLUMNS) * size, 3) uint8 sheet of the given identity seeds."""
    rows = []
    for seed in seeds:
        head = SynthHead(seed, size)
        tiles = []
        for _, controls, angles in PREVIEW_COLUMNS:
            coeffs = with_controls(neutral_coeffs(), **controls)
            coeffs[64:67] = angles
            tiles.append(head.render(coeffs))
        rows.append(np.concatenate(tiles, axis=1))
    sheet = np.concatenate(rows, axis=0)
    if not label:
        return sheet
    from PIL import Image, ImageDraw

    header = Image.new("RGB", (sheet.shape[1], 14), (255, 255, 255))
    draw = ImageDraw.Draw(header)
    for k, (name, _, _) in enumerate(PREVIEW_COLUMNS):
        draw.text((k * size + 2, 1), name, fill=(0, 0, 0))
    return np.concatenate([np.asarray(header), sheet], axis=0)
