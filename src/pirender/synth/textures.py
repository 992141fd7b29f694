"""SynthHead textures: the per-identity skin/hair/background maps and the per-frame face painting.

The face texture is a frontal projection: texel (i, j) holds the colour of head-local points with
x = X0 + (j + 0.5) / density and y = Y1 - (i + 0.5) / density, whatever their depth. Static detail
(skin noise, blush, beard, nostrils) is painted once per identity and size; the features that
expressions move (brows, eyes, lids, mouth, teeth, tongue) are repainted every frame inside their
own small rectangles, so a frame costs only those rectangles, not the whole map. Feature edges are
smoothstepped over about one texel, which keeps them antialiased after nearest-texel lookup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from pirender.synth.identity import Identity

X0, X1 = -1.05, 1.05  # face texture extent in head-local units
Y0, Y1 = -1.6, 1.35


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Band-limited value noise in [-1, 1] of `shape`, with about `cells` random values per axis."""
    grid = rng.uniform(-1.0, 1.0, size=(cells[0] + 3, cells[1] + 3))
    zoom = ((shape[0] + 2) / grid.shape[0] * 1.0001, (shape[1] + 2) / grid.shape[1] * 1.0001)
    up = ndimage.zoom(grid, zoom, order=3, mode="reflect")
    out = up[1 : shape[0] + 1, 1 : shape[1] + 1]
    return (out / max(1e-6, float(np.abs(out).max()))).astype(np.float32)


def _sat(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 1.0)


@dataclass
class FaceTexture:
    """A frontal texture map (rows top to bottom) with its local-unit <-> texel conversion."""

    image: np.ndarray  # (Ty, Tx, 3) float32 albedo
    density: float  # texels per head-local unit

    def rect(
        self, x0: float, x1: float, y0: float, y1: float
    ) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
        """Texel slices covering local box [x0, x1] x [y0, y1] and the (h, 1), (1, w) local coordinates."""
        ty, tx = self.image.shape[:2]
        j0 = max(0, int(np.floor((x0 - X0) * self.density)))
        j1 = min(tx, int(np.ceil((x1 - X0) * self.density)) + 1)
        i0 = max(0, int(np.floor((Y1 - y1) * self.density)))
        i1 = min(ty, int(np.ceil((Y1 - y0) * self.density)) + 1)
        xs = (X0 + (np.arange(j0, j1, dtype=np.float32) + 0.5) / self.density)[None, :]
        ys = (Y1 - (np.arange(i0, i1, dtype=np.float32) + 0.5) / self.density)[:, None]
        return (slice(i0, i1), slice(j0, j1)), xs, ys

    def blend(self, region: tuple[slice, slice], alpha: np.ndarray, colour: np.ndarray | tuple) -> None:
        """In place: region = region * (1 - alpha) + colour * alpha (alpha (h, w), colour (3,) or (h, w, 3))."""
        target = self.image[region]
        if alpha.shape != target.shape[:2]:
            alpha = np.broadcast_to(alpha, target.shape[:2])
        target += alpha[..., None] * (np.asarray(colour, dtype=np.float32) - target)

    def lookup_index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Flat texel indices (nearest) of head-local points (x, y), clamped to the map."""
        ty, tx = self.image.shape[:2]
        j = np.clip(((x - X0) * self.density).astype(np.int32), 0, tx - 1)
        i = np.clip(((Y1 - y) * self.density).astype(np.int32), 0, ty - 1)
        return i * tx + j


def base_face_texture(identity: Identity, geometry: dict, density: float) -> FaceTexture:
    """Static skin albedo: tone, mottling, pores, blush, beard and nostrils (no moving features)."""
    rng = np.random.default_rng(np.random.SeedSequence([identity.seed, 0xFACE]))
    tx = int(round((X1 - X0) * density))
    ty = int(round((Y1 - Y0) * density))
    skin = np.asarray(identity.skin, dtype=np.float32)
    low = smooth_noise(rng, (ty, tx), (6, 5))
    mid = smooth_noise(rng, (ty, tx), (40, 28))
    pores = rng.uniform(-1.0, 1.0, size=(ty, tx)).astype(np.float32)
    shade = 1.0 + 0.05 * low + 0.035 * mid + 0.02 * pores
    image = skin[None, None, :] * shade[..., None]
    tex = FaceTexture(image=image.astype(np.float32), density=density)

    # Blush on the cheeks, a little redder skin on the nose.
    region, xs, ys = tex.rect(-0.8, 0.8, -0.6, 0.2)
    blush = np.exp(-(((np.abs(xs) - 0.36) / 0.2) ** 2 + ((ys + 0.18) / 0.18) ** 2))
    tex.blend(region, 0.1 * blush, np.array([0.85, 0.35, 0.35], np.float32) * skin.max())

    # Beard / stubble: darkening of the lower face with a coarse stipple, above the chin only.
    if identity.beard > 0:
        region, xs, ys = tex.rect(-0.75, 0.75, -1.25, -0.2)
        mouth_y = geometry["mouth_y"]
        chin_bottom = geometry["chin_y"]
        jawline = (
            _sat((-0.25 - ys) / 0.08)
            * _sat((0.62 - np.abs(xs)) / 0.1)
            * _sat((ys - chin_bottom - 0.04) / 0.06)
        )
        moustache = np.exp(-(((ys - (mouth_y + 0.09)) / 0.05) ** 2)) * _sat((0.25 - np.abs(xs)) / 0.06)
        stipple = 0.6 + 0.4 * rng.uniform(0.0, 1.0, size=jawline.shape).astype(np.float32)
        amount = identity.beard * np.clip(
            np.maximum(jawline * _sat((mouth_y + 0.02 - ys) / 0.05), moustache), 0, 1
        )
        tex.blend(region, 0.8 * amount * stipple, np.asarray(identity.hair_colour, np.float32) * 0.9)

    # Nostrils: two dark ellipses on the underside of the nose tip.
    nose_y, nose_w = geometry["nostril_y"], geometry["nose_half_width"]
    region, xs, ys = tex.rect(-0.3, 0.3, nose_y - 0.1, nose_y + 0.1)
    for side in (-1.0, 1.0):
        d = ((xs - side * 0.45 * nose_w) / (0.32 * nose_w)) ** 2 + ((ys - nose_y) / 0.028) ** 2
        tex.blend(region, 0.85 * _sat((1.0 - d) * 3.0), np.array([0.12, 0.05, 0.05], np.float32))
    return tex


def hair_texture(identity: Identity, height: int, width: int) -> np.ndarray:
    """(height, width, 3) float32 hair albedo: strands along y (rows), across the head angle (columns)."""
    rng = np.random.default_rng(np.random.SeedSequence([identity.seed, 0x4A12]))
    hair = np.asarray(identity.hair_colour, dtype=np.float32)
    strands = smooth_noise(rng, (height, width), (max(3, height // 40), max(8, width // 3)))
    clumps = smooth_noise(rng, (height, width), (4, max(4, width // 12)))
    shade = 0.78 + 0.28 * strands + 0.12 * clumps
    return np.clip(hair[None, None, :] * shade[..., None] + 0.03 * strands[..., None], 0.0, 1.0).astype(
        np.float32
    )


def background_image(identity: Identity, size: int) -> np.ndarray:
    """(size, size, 3) float32 background: solid, gradient or soft texture, per the identity."""
    c1, c2 = (np.asarray(c, dtype=np.float32) for c in identity.background_colours)
    if identity.background == "solid":
        return np.broadcast_to(c1, (size, size, 3)).astype(np.float32)
    rng = np.random.default_rng(np.random.SeedSequence([identity.seed, 0xB6]))
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)
    if identity.background == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(angle) * t[None, :] + np.sin(angle) * t[:, None]
        ramp = (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
        return (c1 * (1 - ramp[..., None]) + c2 * ramp[..., None]).astype(np.float32)
    blobs = smooth_noise(rng, (size, size), (5, 5)) * 0.5 + 0.5
    fine = smooth_noise(rng, (size, size), (24, 24))
    mix = np.clip(blobs + 0.08 * fine, 0.0, 1.0)
    return (c1 * (1 - mix[..., None]) + c2 * mix[..., None]).astype(np.float32)
