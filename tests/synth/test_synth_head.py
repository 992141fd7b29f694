"""SynthHead rendering: determinism, identities, expression locality, pose convention, crop."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pirender.errors import InputError
from pirender.motion.camera import project
from pirender.synth import (
    EXPRESSION_CONTROLS,
    PRIMITIVES,
    Identity,
    SynthHead,
    neutral_coeffs,
    render,
    with_controls,
)

SIZE = 96


@pytest.fixture(scope="module")
def head() -> SynthHead:
    return SynthHead(7, SIZE)


def _centroid(ids: np.ndarray, name: str) -> np.ndarray:
    rows, cols = np.nonzero(ids == PRIMITIVES.index(name))
    assert rows.size > 0, f"{name} not visible"
    return np.array([cols.mean(), rows.mean()])


def test_same_seed_gives_identical_bytes() -> None:
    coeffs = with_controls(jaw_open=0.4, smile=0.3)
    coeffs[64:67] = (0.1, -0.2, 0.05)
    a = SynthHead(Identity.from_seed(123), 64).render(coeffs)
    b = SynthHead(123, 64).render(coeffs)
    assert Identity.from_seed(123) == Identity.from_seed(123)
    assert a.dtype == np.uint8 and a.shape == (64, 64, 3)
    assert a.tobytes() == b.tobytes()
    assert render(123, coeffs, 64).tobytes() == a.tobytes()
    assert render(124, coeffs, 64).tobytes() != a.tobytes()


@pytest.mark.parametrize("size", [64, 128, 256])
def test_any_square_size(size: int) -> None:
    image = SynthHead(3, size).render(neutral_coeffs())
    assert image.shape == (size, size, 3) and image.dtype == np.uint8
    assert image.std() > 10  # not blank


def test_thousand_distinct_identities() -> None:
    vectors = np.stack([Identity.from_seed(s).as_vector() for s in range(1000)])
    scaled = (vectors - vectors.mean(0)) / (vectors.std(0) + 1e-9)
    sq = (scaled**2).sum(1)
    dist2 = sq[:, None] + sq[None, :] - 2 * scaled @ scaled.T
    np.fill_diagonal(dist2, np.inf)
    # Every pair differs by at least a few standard deviations summed over parameters.
    assert np.sqrt(dist2.min()) > 2.0
    # And the images of different identities differ clearly.
    images = [SynthHead(s, 48).render(neutral_coeffs()).astype(np.float32) for s in range(12)]
    diffs = [np.abs(images[i] - images[j]).mean() for i in range(12) for j in range(i + 1, 12)]
    assert min(diffs) > 8.0


def test_unnamed_expression_slots_have_no_effect(head: SynthHead) -> None:
    base = neutral_coeffs()
    noisy = base.copy()
    noisy[len(EXPRESSION_CONTROLS) : 64] = np.linspace(-2, 2, 64 - len(EXPRESSION_CONTROLS))
    assert head.render(noisy).tobytes() == head.render(base).tobytes()


def _regions(head: SynthHead) -> dict[str, np.ndarray]:
    """Boolean (size, size) masks of face regions from projected landmarks (independent of the texture)."""
    coeffs = neutral_coeffs()
    marks = {k: project(v[None], coeffs, head.size)[0] for k, v in head.landmarks().items()}
    rows, cols = np.mgrid[0 : head.size, 0 : head.size]
    eye_half = 0.45 * abs(marks["eye_left"][0] - marks["eye_right"][0])
    nose_row = marks["nose_tip"][1]

    def box(centre: np.ndarray, half_w: float, half_h: float) -> np.ndarray:
        return (np.abs(cols - centre[0]) <= half_w) & (np.abs(rows - centre[1]) <= half_h)

    eye_l = box(marks["eye_left"] - (0, 0.25 * eye_half), 0.75 * eye_half, 0.8 * eye_half)
    eye_r = box(marks["eye_right"] - (0, 0.25 * eye_half), 0.75 * eye_half, 0.8 * eye_half)
    return {
        "eye_left": eye_l,
        "eye_right": eye_r,
        "eyes": eye_l | eye_r,
        "upper": rows < nose_row,
        "lower": rows > nose_row - 0.15 * eye_half,
        "below_eyes": rows > marks["eye_left"][1] + 0.3 * eye_half,
    }


@pytest.mark.parametrize(
    "control, region",
    [
        ("jaw_open", "lower"),
        ("smile", "lower"),
        ("frown", "lower"),
        ("pucker", "lower"),
        ("lip_stretch", "lower"),
        ("cheek_puff", "below_eyes"),
        ("mouth_shift", "lower"),
        ("blink_left", "eye_left"),
        ("blink_right", "eye_right"),
        ("squint", "eyes"),
        ("brow_raise", "upper"),
        ("brow_furrow", "upper"),
    ],
)
def test_each_control_changes_its_own_region(head: SynthHead, control: str, region: str) -> None:
    neutral = head.render(neutral_coeffs()).astype(np.float32)
    moved = head.render(with_controls(**{control: 1.0})).astype(np.float32)
    diff = np.abs(moved - neutral).sum(axis=2)
    mask = _regions(head)[region]
    assert diff.sum() > 300.0, f"{control} has almost no visible effect"
    inside = diff[mask].sum() / diff.sum()
    assert inside > 0.85, f"{control}: only {inside:.0%} of the change is in the {region} region"


def test_blink_hides_the_iris() -> None:
    ident = dataclasses.replace(Identity.from_seed(11), iris_colour=(0.0, 0.0, 1.0), glasses=False)
    head = SynthHead(ident, 128)

    def blue(image: np.ndarray) -> np.ndarray:
        rgb = image.astype(np.int32)
        return (rgb[..., 2] > rgb[..., 0] + 60) & (rgb[..., 2] > rgb[..., 1] + 60)

    open_eyes = blue(head.render(neutral_coeffs()))
    left_closed = blue(head.render(with_controls(blink_left=1.0)))
    both_closed = blue(head.render(with_controls(blink_left=1.0, blink_right=1.0)))
    cols = np.nonzero(open_eyes)[1]
    assert open_eyes.sum() > 10 and (cols > 64).any() and (cols < 64).any()  # two blue irises
    assert 0 < left_closed.sum() < open_eyes.sum()
    assert not (np.nonzero(left_closed)[1] > 64).any()  # the subject's left eye is on the image right
    assert both_closed.sum() == 0


def test_open_mouth_reveals_teeth_and_interior() -> None:
    ident = dataclasses.replace(Identity.from_seed(5), skin=(0.45, 0.32, 0.25), beard=0.0, glasses=False)
    head = SynthHead(ident, 128)
    mouth = _regions(head)["lower"]

    def counts(image: np.ndarray) -> tuple[int, int]:
        rgb = image.astype(np.int32)
        white = (rgb.min(axis=2) > 130) & (rgb.max(axis=2) - rgb.min(axis=2) < 45) & mouth  # teeth
        dark_red = (rgb[..., 0] < 90) & (rgb[..., 0] > rgb[..., 1] + 15) & (rgb[..., 1] < 40) & mouth
        return int(white.sum()), int(dark_red.sum())

    closed = counts(head.render(neutral_coeffs()))
    opened = counts(head.render(with_controls(jaw_open=1.0)))
    assert closed[0] == 0 and opened[0] > 12
    assert opened[1] > closed[1] + 10


def test_yaw_follows_deep3d_convention(head: SynthHead) -> None:
    # Independent derivation from spec section 13: R = Rz Ry Rx, v' = v R^T; the camera keeps x to
    # the image right (u = f x / (10 - z) + 112, no flip). A nose on +z with yaw +0.3 goes to +x.
    yaw = 0.3
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    nose = np.array([0.0, 0.0, 1.0]) @ ry.T
    expected_sign = np.sign(nose[0])
    assert expected_sign > 0

    _, ids0 = head.render_with_ids(neutral_coeffs())
    turned = neutral_coeffs()
    turned[65] = yaw
    image, ids1 = head.render_with_ids(turned)
    shift = _centroid(ids1, "nose_tip")[0] - _centroid(ids0, "nose_tip")[0]
    assert np.sign(shift) == expected_sign and abs(shift) > 3

    # Real 3D: the side turning away (the subject's left, +x) is foreshortened, the other side opens up,
    # so more of the head lies on the image left of the nose.
    def left_right_ratio(ids: np.ndarray) -> float:
        head_mask = (ids >= PRIMITIVES.index("cranium")) & (ids <= PRIMITIVES.index("ear_right"))
        nose_col = _centroid(ids, "nose_tip")[0]
        cols = np.nonzero(head_mask)[1]
        return (cols < nose_col).sum() / max(1, (cols > nose_col).sum())

    assert 0.8 < left_right_ratio(ids0) < 1.25
    assert left_right_ratio(ids1) > 1.5


def test_projection_and_crop_match_the_render(head: SynthHead) -> None:
    coeffs = neutral_coeffs()
    coeffs[64:67] = (0.1, -0.25, 0.1)
    _, ids = head.render_with_ids(coeffs)
    col, row = np.round(project(head.landmarks()["nose_tip"][None], coeffs, SIZE)[0]).astype(int)
    assert ids[row, col] == PRIMITIVES.index("nose_tip")
    base = _centroid(ids, "nose_tip")
    moved = coeffs.copy()
    moved[71] += 32.0  # tx: 32 original pixels to the right
    moved[72] += 16.0  # ty: 16 original pixels up (y measured from the bottom)
    shifted = _centroid(head.render_with_ids(moved)[1], "nose_tip")
    np.testing.assert_allclose(shifted - base, [32 * SIZE / 256, -16 * SIZE / 256], atol=0.6)
    bigger = coeffs.copy()
    bigger[70] = coeffs[70] / 1.5  # smaller s: the aligned frame is shown larger
    area = (ids == PRIMITIVES.index("cranium")).sum()
    area_big = (head.render_with_ids(bigger)[1] == PRIMITIVES.index("cranium")).sum()
    assert 1.8 < area_big / area < 2.7


def test_rotation_changes_shading() -> None:
    ident = dataclasses.replace(Identity.from_seed(2), light_direction=(0.6, 0.0, 0.8))
    head = SynthHead(ident, 96)
    left, right = neutral_coeffs(), neutral_coeffs()
    left[66], right[66] = 0.0, 0.0
    left[65], right[65] = -0.4, 0.4
    tip = head.landmarks()["nose_tip"][None]

    def brightness_at_tip(coeffs: np.ndarray) -> float:
        col, row = np.round(project(tip, coeffs, head.size)[0]).astype(int)
        return float(head.render(coeffs)[row - 1 : row + 2, col - 1 : col + 2].mean())

    # The same surface point (same albedo) turned towards the light (+x) is brighter.
    assert brightness_at_tip(right) > brightness_at_tip(left) + 15


def test_bad_coefficients_rejected(head: SynthHead) -> None:
    with pytest.raises(InputError):
        head.render(np.zeros(70, np.float32))
    bad = neutral_coeffs()
    bad[3] = np.nan
    with pytest.raises(InputError):
        head.render(bad)
    with pytest.raises(InputError):
        Identity.from_seed(-1)
