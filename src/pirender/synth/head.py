"""SynthHead: a procedural 3D head ray-cast from PIRenderer-style motion coefficients.

Technique (chosen by measurement, see docs/synthhead.md): the head is a union of ellipsoids in
head-local BFM-like units (cranium, jaw, cheeks, nose bridge and tip, ears, neck, torso, a hair
shell clipped at the hairline, optional long hair) plus glasses made of planes. Every output pixel
casts one ray through the Deep3DFaceRecon camera and crop (camera.py); ray/ellipsoid hits are
closed-form and vectorised over pixels with numpy. Surfaces are shaded ambient + Lambert with a light
fixed in camera space, so turning the head changes the shading. Skin albedo comes from a frontal
face texture whose moving features are repainted each frame (features.py); hair from a strand
texture. Antialiasing is adaptive: pixels whose primitive differs from a neighbour's (silhouettes,
occlusion edges, hairline, glasses) are re-cast with 4 rotated-grid sub-samples and averaged;
texture edges are already smooth.

Primitive ids (the `ids` map of `render_with_ids`): see PRIMITIVES.
"""

from __future__ import annotations

import numpy as np

from pirender.errors import InputError
from pirender.motion import camera
from pirender.motion import coeffs as layout
from pirender.synth.expression import expression_values
from pirender.synth.features import paint_features
from pirender.synth.identity import Identity
from pirender.synth.textures import FaceTexture, background_image, base_face_texture, hair_texture

PRIMITIVES = (
    "background",
    "cranium",
    "jaw",
    "cheek_left",
    "cheek_right",
    "nose_bridge",
    "nose_tip",
    "ear_left",
    "ear_right",
    "neck",
    "torso",
    "hair",
    "long_hair",
    "glasses_frame",
    "glasses_lens",
)
PRIMITIVE_ID = {name: i for i, name in enumerate(PRIMITIVES)}
_SKIN_IDS = [PRIMITIVE_ID[n] for n in PRIMITIVES[1:10]]
_HAIR, _LONG_HAIR = PRIMITIVE_ID["hair"], PRIMITIVE_ID["long_hair"]
_FRAME, _LENS = PRIMITIVE_ID["glasses_frame"], PRIMITIVE_ID["glasses_lens"]
_TORSO = PRIMITIVE_ID["torso"]
_NUM_ELLIPSOIDS = _LONG_HAIR + 1  # ids 1 .. long_hair are ellipsoids (index 0 unused)

_AMBIENT, _DIFFUSE = 0.38, 0.72
# Rotated-grid sub-sample offsets (pixels) for edge pixels.
_SUBSAMPLES = np.array([[-0.125, -0.375], [0.375, -0.125], [0.125, 0.375], [-0.375, 0.125]], np.float32)


class SynthHead:
    """One identity, rendered at one square size.

    Args:
        identity: an Identity, or an int seed for Identity.from_seed.
        size: output height = width in pixels (any size >= 16; 64, 128, 256 are typical).
    """

    def __init__(self, identity: Identity | int, size: int = 256) -> None:
        if not isinstance(identity, Identity):
            identity = Identity.from_seed(identity)
        if not isinstance(size, (int, np.integer)) or size < 16:
            raise InputError(f"size must be an int >= 16, got {size!r}")
        self.identity = identity
        self.size = int(size)
        self.geometry = self._static_geometry(identity)
        # Texel density: about 1.8 texels per output pixel at the neutral framing.
        density = max(40.0, 0.6 * self.size)
        self._base_texture = base_face_texture(identity, self.geometry, density)
        self._texture = FaceTexture(self._base_texture.image.copy(), density)
        hair_rows = self._base_texture.image.shape[0]
        self._hair_width = int(2.5 * density)
        self._hair_rows = hair_rows
        self._hair = hair_texture(identity, hair_rows, self._hair_width).reshape(-1, 3)
        self._background = background_image(identity, self.size)
        self._shirt = np.asarray(identity.shirt_colour, np.float32)

    # ------------------------------------------------------------------ geometry
    @staticmethod
    def _static_geometry(ident: Identity) -> dict:
        w, h = ident.head_width, ident.head_height
        return {
            "eye_x": 0.3 * ident.eye_spacing * w,
            "eye_y": 0.16 * h,
            "brow_y": 0.3 * h,
            "mouth_x": 0.0,
            "mouth_y": -0.5 * h,
            "nostril_y": -0.27 * ident.nose_length,
            "nose_half_width": 0.105 * ident.nose_width,
            "nose_tip": (0.0, -0.19 * ident.nose_length, (0.52 + 0.12) * ident.nose_depth),
            "chin_y": -0.36 * h - 0.62 * h * ident.chin,
            "jaw_drop": 0.0,
        }

    def _ellipsoids(self, expr: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Centres and semi-axes (_NUM_ELLIPSOIDS, 3) of every ellipsoid for this frame's expression."""
        i = self.identity
        w, h, d = i.head_width, i.head_height, i.head_depth
        jaw, smile, puff = expr["jaw_open"], expr["smile"], expr["cheek_puff"]
        drop = 0.16 * jaw
        vol = i.hair_volume
        c = np.zeros((_NUM_ELLIPSOIDS, 3))
        a = np.ones((_NUM_ELLIPSOIDS, 3))
        p = PRIMITIVE_ID
        c[p["cranium"]], a[p["cranium"]] = (0, 0.12 * h, -0.42 * d), (0.8 * w, 1.0 * h, 0.92 * d)
        c[p["jaw"]] = (0, -0.36 * h - drop, -0.28 * d + 0.06 * (i.chin - 1) - 0.05 * jaw)
        a[p["jaw"]] = (0.6 * w * i.jaw_width, 0.62 * h * i.chin, 0.7 * d)
        cheek_axes = np.array([0.27, 0.22, 0.34]) * (0.5 + 0.5 * i.cheeks) * (1 + 0.3 * puff)
        for name, side in (("cheek_left", 1), ("cheek_right", -1)):
            c[p[name]] = (side * 0.36 * w, -0.2 * h + 0.03 * smile, -0.06 + 0.08 * puff)
            a[p[name]] = cheek_axes
        c[p["nose_bridge"]] = (0, -0.02, 0.33 * d)
        a[p["nose_bridge"]] = (0.075 * i.nose_width, 0.2 * i.nose_length, 0.3 * i.nose_depth)
        c[p["nose_tip"]] = (0, -0.19 * i.nose_length, 0.52 * i.nose_depth)
        a[p["nose_tip"]] = (0.105 * i.nose_width, 0.09, 0.12 * i.nose_depth)
        for name, side in (("ear_left", 1), ("ear_right", -1)):
            c[p[name]] = (side * (0.8 * w + 0.02), 0.03 * h, -0.5 * d)
            a[p[name]] = (0.08, 0.2 * i.ear_size, 0.13 * i.ear_size)
        c[p["neck"]], a[p["neck"]] = (0, -1.15, -0.5 * d), (0.36 * w, 0.75, 0.38)
        c[p["torso"]], a[p["torso"]] = (0, -2.05, -0.75), (1.5, 0.78, 0.6)
        grow = 1.035 + 0.07 * vol
        c[p["hair"]] = c[p["cranium"]] + (0, 0.03 + 0.06 * vol, -0.03)
        a[p["hair"]] = a[p["cranium"]] * grow
        c[p["long_hair"]], a[p["long_hair"]] = (0, -0.45, -0.62 * d), (0.86 * w + 0.1 * vol, 1.05, 0.52)
        return c, a

    def landmarks(self) -> dict[str, np.ndarray]:
        """Named head-local points at the neutral expression (3,) each: nose_tip, eye and mouth centres."""
        g = self.geometry
        eye_z = self._surface_z(g["eye_x"], g["eye_y"])
        return {
            "nose_tip": np.array(g["nose_tip"]),
            "eye_left": np.array([g["eye_x"], g["eye_y"], eye_z]),
            "eye_right": np.array([-g["eye_x"], g["eye_y"], eye_z]),
            "mouth": np.array([g["mouth_x"], g["mouth_y"], self._surface_z(0.0, g["mouth_y"])]),
            "chin": np.array([0.0, g["chin_y"], self._surface_z(0.0, g["chin_y"] + 0.05)]),
        }

    def _surface_z(self, x: float, y: float) -> float:
        """Front-most z of the neutral face (cranium/jaw/cheeks) at head-local (x, y)."""
        c, a = self._ellipsoids(expression_values(np.zeros(layout.COEFF_DIM)))
        best = -np.inf
        for k in (
            PRIMITIVE_ID["cranium"],
            PRIMITIVE_ID["jaw"],
            PRIMITIVE_ID["cheek_left"],
            PRIMITIVE_ID["cheek_right"],
        ):
            r = 1 - ((x - c[k, 0]) / a[k, 0]) ** 2 - ((y - c[k, 1]) / a[k, 1]) ** 2
            if r > 0:
                best = max(best, c[k, 2] + a[k, 2] * np.sqrt(r))
        return float(best)

    # ------------------------------------------------------------------ rendering
    def render(self, coeffs: np.ndarray) -> np.ndarray:
        """Render one frame.

        Args:
            coeffs: (73,) motion coefficients [exp 64 | angle 3 | trans 3 | crop 3] (motion.coeffs).
        Returns:
            (size, size, 3) uint8 RGB image.
        """
        return self.render_with_ids(coeffs)[0]

    def render_with_ids(self, coeffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Render one frame and also return the (size, size) uint8 map of PRIMITIVES ids per pixel."""
        coeffs = np.asarray(coeffs, dtype=np.float64)
        if coeffs.shape != (layout.COEFF_DIM,):
            raise InputError(f"expected coeffs of shape ({layout.COEFF_DIM},), got {coeffs.shape}")
        if not np.all(np.isfinite(coeffs)):
            raise InputError("coeffs contain NaN or inf")
        if coeffs[70] <= 0:
            raise InputError(f"crop scale s must be positive, got {coeffs[70]}")
        expr = expression_values(coeffs)
        centres, axes = self._ellipsoids(expr)
        # Repaint the moving features on a fresh copy of the static texture.
        np.copyto(self._texture.image, self._base_texture.image)
        geometry = dict(self.geometry, jaw_drop=0.16 * expr["jaw_open"])
        paint_features(self._texture, self.identity, geometry, expr)
        rot = camera.rotation_matrix(coeffs[layout.ANGLE])
        light = rot.T @ np.asarray(self.identity.light_direction)  # camera-space light, in head coordinates
        scene = (centres, axes, light.astype(np.float32))

        n = self.size
        bg = self._background.reshape(-1, 3)
        origin, dirs = camera.pixel_grid_rays(coeffs, n)
        rgb, ids = self._trace(origin, dirs, bg, scene, self._row_ranges(centres, axes, rot, coeffs))
        # Adaptive antialiasing: re-cast pixels on a primitive boundary with 4 sub-samples.
        grid = ids.reshape(n, n)
        edge = np.zeros((n, n), dtype=bool)
        diff_h = grid[:, 1:] != grid[:, :-1]
        diff_v = grid[1:, :] != grid[:-1, :]
        edge[:, 1:] |= diff_h
        edge[:, :-1] |= diff_h
        edge[1:, :] |= diff_v
        edge[:-1, :] |= diff_v
        idx = np.flatnonzero(edge)
        if idx.size:
            sub_cols = ((idx % n).astype(np.float32)[:, None] + _SUBSAMPLES[None, :, 0]).ravel()
            sub_rows = ((idx // n).astype(np.float32)[:, None] + _SUBSAMPLES[None, :, 1]).ravel()
            origin, sub_dirs = camera.pixel_rays(sub_cols, sub_rows, coeffs, n)
            sub_rgb, _ = self._trace(origin, sub_dirs, np.repeat(bg[idx], 4, axis=0), scene)
            rgb[idx] = sub_rgb.reshape(-1, 4, 3).mean(axis=1)
        image = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8).reshape(n, n, 3)
        return image, grid.astype(np.uint8)

    def _row_ranges(self, centres, axes, rot, coeffs) -> list[tuple[int, int]]:
        """Per ellipsoid, the flat pixel range [start, stop) of the image rows its bounding sphere covers."""
        n = self.size
        world = centres @ rot.T + coeffs[layout.TRANS]
        radius = axes.max(axis=1)
        depth = camera.CAMERA_DISTANCE - world[:, 2]
        y_al = camera.FOCAL * world[:, 1] / depth + camera.CENTER
        _, row = camera.aligned_to_output(np.zeros_like(y_al), y_al, coeffs[layout.CROP], n)
        rad = camera.FOCAL * radius / np.maximum(depth - radius, 1e-3) / coeffs[70] * n / camera.ORIGINAL_SIZE
        start = np.clip(np.floor(row - rad) - 1, 0, n).astype(int)
        stop = np.clip(np.ceil(row + rad) + 2, 0, n).astype(int)
        return [(int(a) * n, int(b) * n) for a, b in zip(start, stop, strict=True)]

    def _trace(self, origin, dirs, bg, scene, ranges=None) -> tuple:
        """Colours (N, 3) float32 and primitive ids (N,) of rays origin + t * dirs (dirs (3, N)).

        `ranges` (from _row_ranges, for row-major full-image rays only) restricts each ellipsoid's
        intersection test to the rays of the rows it can cover.
        """
        centres, axes, light = scene
        num = dirs.shape[1]
        squares = dirs * dirs
        best_t = np.full(num, np.inf, dtype=np.float32)
        best_id = np.zeros(num, dtype=np.int32)
        for k in range(1, _NUM_ELLIPSOIDS):
            if k == _LONG_HAIR and self.identity.hair_style != "long":
                continue
            lo, hi = ranges[k] if ranges is not None else (0, num)
            if lo >= hi:
                continue
            sel, t = self._hit_ellipsoid(
                origin, dirs[:, lo:hi], squares[:, lo:hi], centres[k], axes[k], back=k == _LONG_HAIR
            )
            sel += lo
            if k in (_HAIR, _LONG_HAIR) and sel.size:
                sel, t = self._clip_hair(k, origin, dirs, sel, t)
            closer = t < best_t[sel]
            sel = sel[closer]
            best_t[sel] = t[closer]
            best_id[sel] = k
        lens_alpha = self._glasses(origin, dirs, best_t, best_id) if self.identity.glasses else None

        rgb = bg.astype(np.float32, copy=True)
        hit = np.flatnonzero((best_id > 0) & (best_id != _FRAME))
        if hit.size:
            rgb[hit] = self._shade(origin, dirs[:, hit], best_t[hit], best_id[hit], centres, axes, light)
        frame = np.flatnonzero(best_id == _FRAME)
        if frame.size:
            colour = np.asarray(self.identity.glasses_colour, np.float32)
            rgb[frame] = colour * (_AMBIENT + _DIFFUSE * max(0.0, float(light[2]))) + 0.05
        if lens_alpha is not None:
            lens = np.flatnonzero(lens_alpha > 0)
            if lens.size:
                a = lens_alpha[lens][:, None]
                tint = np.array([0.75, 0.85, 0.9], np.float32)
                rgb[lens] = rgb[lens] * (1 - a) + tint * a
                best_id[lens] = _LENS
        return rgb, best_id

    @staticmethod
    def _hit_ellipsoid(
        origin, dirs, squares, centre, axis, back: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rays that hit the ellipsoid in front of the camera: indices (M,) and their nearest t (M,).

        With back=True the far (inner, back) surface is returned instead: long hair is seen from inside.
        """
        inv = 1.0 / axis
        oc = (origin - centre) * inv  # camera origin in the unit-sphere frame of the ellipsoid
        b = (oc * inv).astype(np.float32)
        c_term = np.float32(oc @ oc - 1.0)
        inv2 = (inv * inv).astype(np.float32)
        # |o' + t d'|^2 = 1  ->  A t^2 + 2 B t + C = 0, with A = sum d^2/a^2, B = sum o'd/a.
        a_term = squares[0] * inv2[0]
        a_term += squares[1] * inv2[1]
        a_term += squares[2] * inv2[2]
        b_term = dirs[0] * b[0]
        b_term += dirs[1] * b[1]
        b_term += dirs[2] * b[2]
        disc = b_term * b_term
        disc -= a_term * c_term
        sel = np.flatnonzero(disc > 0)
        root = np.sqrt(disc[sel])
        t = ((-b_term[sel] + root) if back else (-b_term[sel] - root)) / a_term[sel]
        front = t > 0
        return sel[front], t[front]

    def _clip_hair(self, k: int, origin, dirs, sel: np.ndarray, t: np.ndarray) -> tuple:
        """Keep hair-shell hits only inside the hair region (above the hairline, behind the ears)."""
        x = origin[0] + t * dirs[0, sel]
        y = origin[1] + t * dirs[1, sel]
        z = origin[2] + t * dirs[2, sel]
        ident = self.identity
        w, h = ident.head_width, ident.head_height
        if k == _LONG_HAIR:
            keep = (z < -0.35) & (y > -1.5)
        elif ident.hair_style == "bald":
            keep = (z < -0.45 * ident.head_depth) & (y > -0.3) & (y < 0.45)
        else:
            hairline = ident.hairline * h + 0.12 - 0.42 * (x / (0.8 * w)) ** 2
            sideburn = (np.abs(x) > 0.68 * w) & (y > -0.05) & (z < -0.12)
            back = (z < -0.48 * ident.head_depth) & (y > -0.4)
            keep = (y > hairline) | sideburn | back
        return sel[keep], t[keep]

    def _glasses(self, origin, dirs, best_t: np.ndarray, best_id: np.ndarray) -> np.ndarray:
        """Intersect the glasses (front plane + two temple arms); updates best_t/best_id for the frame.

        Returns the lens alpha (N,) for rays whose lens hit is in front of everything else.
        """
        g, ident = self.geometry, self.identity
        zg = 0.57 * ident.head_depth
        ex, ey = g["eye_x"], g["eye_y"] - 0.01
        rx, ry, rim = 0.155 * ident.eye_size, 0.11 * ident.eye_size, 0.022
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (zg - origin[2]) / dirs[2]
        t = np.where(t > 0, t, np.inf).astype(np.float32)
        px = origin[0] + t * dirs[0]
        py = origin[1] + t * dirs[1]
        ax = np.abs(px)
        # Rounded-rectangle lenses (superellipse of degree 4) around each eye.
        r = np.sqrt(np.sqrt(((ax - ex) / rx) ** 4 + ((py - ey) / ry) ** 4))
        ring = (r > 1.0) & (r < 1.0 + rim / ry)
        bridge = (ax < ex - rx + 0.01) & (np.abs(py - ey - 0.035) < 0.012)
        frame = (ring | bridge) & (t < best_t)
        best_t[frame] = t[frame]
        best_id[frame] = _FRAME
        lens = (r <= 1.0) & (t < best_t)
        # Temple arms: planes x = +-(ex + rx + rim) from the lens plane back to the ears.
        xt = ex + rx + rim
        for side in (-1.0, 1.0):
            with np.errstate(divide="ignore", invalid="ignore"):  # rays parallel to the plane: inf, nan
                ts = (side * xt - origin[0]) / dirs[0]
                ts = np.where(ts > 0, ts, np.inf).astype(np.float32)
                sy = origin[1] + ts * dirs[1]
                sz = origin[2] + ts * dirs[2]
            arm = (
                (np.abs(sy - ey - 0.03) < 0.016) & (sz < zg) & (sz > -0.55 * ident.head_depth) & (ts < best_t)
            )
            best_t[arm] = ts[arm]
            best_id[arm] = _FRAME
            lens &= ~arm
        sel = np.flatnonzero(lens)
        alpha = np.zeros(dirs.shape[1], dtype=np.float32)
        gx, gy = px[sel], py[sel]
        glint = np.exp(-(((gx - np.sign(gx) * (ex - 0.05)) / 0.04) ** 2 + ((gy - ey - 0.05) / 0.02) ** 2))
        alpha[sel] = 0.18 + 0.5 * glint
        return alpha

    def _shade(self, origin, dirs, t, ids, centres, axes, light) -> np.ndarray:
        """Albedo x (ambient + Lambert) for hit rays: dirs (3, M), t (M,), ids (M,) -> (M, 3) float32."""
        p = origin[:, None] + t[None, :] * dirs  # (3, M) hit points
        inv2 = np.ascontiguousarray((1.0 / axes**2).T, dtype=np.float32)  # (3, K)
        cen = np.ascontiguousarray(centres.T, dtype=np.float32)  # (3, K)
        grad = (p - cen[:, ids]) * inv2[:, ids]  # ellipsoid normals (unnormalised)
        norm = np.sqrt(grad[0] * grad[0] + grad[1] * grad[1] + grad[2] * grad[2])
        dot = grad[0] * light[0] + grad[1] * light[1] + grad[2] * light[2]
        shade = _AMBIENT + _DIFFUSE * np.maximum(dot / np.maximum(norm, 1e-12), 0.0)
        x, y, z = p
        albedo = np.empty((ids.size, 3), dtype=np.float32)
        skin = np.flatnonzero(ids <= PRIMITIVE_ID["neck"])
        tex = self._texture
        albedo[skin] = np.take(tex.image.reshape(-1, 3), tex.lookup_index(x[skin], y[skin]), axis=0)
        sel = np.flatnonzero(ids == _TORSO)
        if sel.size:
            fold = 0.85 + 0.15 * np.cos(x[sel] * 9.0 + y[sel] * 3.0)
            albedo[sel] = self._shirt * fold[:, None]
        sel = np.flatnonzero(ids >= _HAIR)
        if sel.size:
            hx, hy, hz = x[sel], y[sel], z[sel] + 0.42
            u = hx / np.sqrt(hx * hx + hz * hz + 1e-6)  # sine of the angle around the vertical axis
            j = np.clip(((u + 1.0) * 0.5 * (self._hair_width - 1)).astype(np.int32), 0, self._hair_width - 1)
            i = np.clip(((1.35 - hy) * tex.density).astype(np.int32), 0, self._hair_rows - 1)
            albedo[sel] = np.take(self._hair, i * self._hair_width + j, axis=0)
        # Ears: a darker ring (the concha); neck: shadowed under the chin.
        sel = np.flatnonzero((ids == PRIMITIVE_ID["ear_left"]) | (ids == PRIMITIVE_ID["ear_right"]))
        if sel.size:
            qy = (y[sel] - cen[1, ids[sel]]) / axes[ids[sel], 1]
            qz = (z[sel] - cen[2, ids[sel]]) / axes[ids[sel], 2]
            ring = np.sqrt(qy * qy + qz * qz)
            albedo[sel] *= (1.0 - 0.35 * np.exp(-(((ring - 0.45) / 0.15) ** 2)))[:, None]
        sel = np.flatnonzero(ids == PRIMITIVE_ID["neck"])
        if sel.size:
            albedo[sel] *= np.clip(0.7 + 0.5 * (-0.75 - y[sel]), 0.7, 1.0)[:, None]
        return albedo * shade[:, None]


def render(identity_or_seed: Identity | int, coeffs: np.ndarray, size: int = 256) -> np.ndarray:
    """Render one frame of an identity (or identity seed): (73,) coeffs -> (size, size, 3) uint8.

    Builds a SynthHead each call (textures included); keep a SynthHead to render many frames.
    """
    return SynthHead(identity_or_seed, size).render(coeffs)
