"""`align_image` cuts the same pixels as Deep3DFaceRecon's `align_img`.

The pinned vectors below were made once (Pillow 12.3.0, scikit-image's astronaut photo, our
TEMPLATE_5 as the standard points) by the documented steps written out literally in `_literal`:
resize the whole image with PIL bicubic to (int(w0 s), int(h0 s)), then PIL-crop the 224 x 224 box
at the truncated offsets (zeros outside the image).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pirender.motion.extract.align import TEMPLATE_5, align_image, aligned_box, transform_params

LANDMARKS = np.array([
    [[188.0, 128], [248, 126], [220, 160], [195, 195], [245, 193]],  # the astronaut's own face, roughly
    [[20.0, 30], [60, 28], [40, 55], [25, 80], [58, 79]],  # small, at the corner: the window leaves the image
    [[100.0, 300], [400, 310], [250, 420], [130, 500], [380, 505]],  # large: s < 1, resized below 224
])  # fmt: skip
PINNED = [  # (s, tx, ty), (w, h, left, up), pixel sum, 24 pixels at evenly spaced flat indices
    ((1.0273327, 218.42105263, 354.54864434), (525, 525, 111, 49), 18779868,
     [182, 45, 141, 50, 204, 49, 178, 183, 200, 152, 200, 204, 211, 140, 7, 133, 223, 2, 40, 64, 130, 2, 54, 89]),
    ((1.45219643, 40.99282297, 460.31020734), (743, 743, -52, -37), 11589057,
     [0, 0, 0, 0, 180, 172, 152, 0, 176, 173, 2, 0, 167, 116, 73, 0, 156, 8, 73, 0, 184, 141, 91, 175]),
    ((0.260596404, 253.309410, 127.184211), (133, 133, -46, -11), 6082561,
     [0, 0, 201, 68, 0, 2, 227, 0, 0, 0, 120, 0, 0, 181, 90, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
]  # fmt: skip


def _literal(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    params = transform_params(landmarks, image.shape[1::-1], TEMPLATE_5)
    w, h, left, up = aligned_box(params)
    return np.asarray(
        Image.fromarray(image).resize((w, h), Image.BICUBIC).crop((left, up, left + 224, up + 224))
    )


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    return data.astronaut()


@pytest.mark.parametrize("case", range(len(PINNED)))
def test_pinned_vectors(photo: np.ndarray, case: int) -> None:
    crop, params = align_image(photo, LANDMARKS[case], TEMPLATE_5)
    (s, tx, ty), box, total, samples = PINNED[case]
    np.testing.assert_allclose(params, [512, 512, s, tx, ty], rtol=0, atol=1e-6)
    assert aligned_box(params) == box
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    assert int(crop.astype(np.int64).sum()) == total
    assert crop.reshape(-1)[np.linspace(0, crop.size - 1, 24).astype(int)].tolist() == samples


def test_random_landmarks_match_the_literal_steps_bit_for_bit(photo: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    for _ in range(25):
        landmarks = (LANDMARKS[0] - 220) * rng.uniform(0.3, 3.0) + rng.uniform([-150, -150], [700, 700])
        landmarks += rng.normal(0, 2, (5, 2))
        assert np.array_equal(align_image(photo, landmarks, TEMPLATE_5)[0], _literal(photo, landmarks))


def test_small_faces_in_a_larger_photo_match_too(photo: np.ndarray) -> None:
    """Up to s = 4.2 (the resized image 5000 x 3800): only the window is computed, the same pixels."""
    big = np.asarray(Image.fromarray(photo).resize((1200, 900)))
    rng = np.random.default_rng(1)
    for scale in (0.25, 0.4, 1.0, 2.0, 3.5):
        landmarks = (LANDMARKS[0] - 220) * scale + [600, 450] + rng.normal(0, 1, (5, 2))
        assert np.array_equal(align_image(big, landmarks, TEMPLATE_5)[0], _literal(big, landmarks))
