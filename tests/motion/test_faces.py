"""MediaPipe face crops on a real photograph: framing, several faces, no face, image variants, tracking."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pirender.errors import InputError
from pirender.media.image import load_image
from pirender.motion.extract.align import TEMPLATE_5, transform_params
from pirender.motion.faces import MODEL_ENV, FaceCropper, MultipleFacesWarning, resolve_model_path

from .conftest import requires_faces

pytestmark = requires_faces


@pytest.fixture(scope="module")
def cropper() -> FaceCropper:
    with FaceCropper() as c:
        yield c


def test_astronaut_crop_centres_the_face_at_the_official_scale(
    cropper: FaceCropper, astronaut: np.ndarray
) -> None:
    crop, transform = cropper.crop_image(astronaut)
    assert crop.shape == (256, 256, 3) and crop.dtype == np.uint8
    # The face is at (177..272, 82..177) in the photo (detector box): the crop must contain it.
    assert transform.center_x - transform.side / 2 < 177 and transform.center_x + transform.side / 2 > 272
    # Aligning the crop as Deep3DFaceRecon does gives the official data's values: s ~ 1, t ~ centre.
    w0, h0, s, tx, ty = transform_params(cropper.landmarks5(crop), (256, 256), TEMPLATE_5)
    assert abs(s - 1.0) < 0.05 and abs(tx - 128) < 6 and abs(ty - 128) < 6
    # eyes level and about 63 px apart at 256 (0.62 units x 102 px)
    left_eye, right_eye = cropper.landmarks5(crop)[:2]
    assert 55 < right_eye[0] - left_eye[0] < 72 and abs(right_eye[1] - left_eye[1]) < 8


def test_largest_of_several_faces_is_taken_and_reported(cropper: FaceCropper, astronaut: np.ndarray) -> None:
    face = astronaut[20:260, 110:350]  # 240 px around the face
    small = np.asarray(Image.fromarray(face).resize((150, 150)))
    canvas = np.full((300, 450, 3), 200, np.uint8)
    canvas[30:270, 0:240] = face
    canvas[75:225, 290:440] = small
    with pytest.warns(MultipleFacesWarning, match="2 faces"):
        transform = cropper.crop_transform(canvas)
    assert transform.center_x < 240  # the big one, on the left


def test_no_face_is_a_one_line_input_error(cropper: FaceCropper) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="no face found"):
        cropper.crop_image(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8), name="noise.png")


@pytest.mark.parametrize("variant", ["gray", "rgba", "16bit", "exif"])
def test_image_variants_crop_like_the_original(
    tmp_path: Path, cropper: FaceCropper, astronaut: np.ndarray, variant: str
) -> None:
    _, reference = cropper.crop_image(astronaut)
    path = tmp_path / f"{variant}.png"
    if variant == "gray":
        Image.fromarray(astronaut).convert("L").save(path)
    elif variant == "rgba":
        rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
        rgba[:40, :, 3] = 0  # a transparent band away from the face
        Image.fromarray(rgba, "RGBA").save(path)
    elif variant == "16bit":
        Image.fromarray(np.asarray(Image.fromarray(astronaut).convert("L"), np.uint16) * 257).save(path)
    else:  # stored rotated 90 degrees, with the EXIF tag that says how to show it upright
        path = tmp_path / "exif.jpg"
        rotated = Image.fromarray(np.rot90(astronaut, k=1))  # counter-clockwise
        exif = rotated.getexif()
        exif[0x0112] = 6  # display = rotate 90 clockwise
        buffer = io.BytesIO()
        rotated.save(buffer, format="JPEG", exif=exif, quality=95)
        path.write_bytes(buffer.getvalue())
    image = load_image(path)
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8
    _, transform = cropper.crop_image(image)
    assert (
        abs(transform.center_x - reference.center_x) < 4 and abs(transform.center_y - reference.center_y) < 4
    )
    assert abs(transform.side / reference.side - 1) < 0.05


def test_tracking_follows_a_moving_face_smoothly(cropper: FaceCropper, astronaut: np.ndarray) -> None:
    # A synthetic "video": a 300 px window sliding right over the photo (the face moves left), with jitter.
    rng = np.random.default_rng(0)
    offsets = np.linspace(60, 140, 12) + rng.normal(0, 2, 12)
    frames = [np.ascontiguousarray(astronaut[0:300, int(o) : int(o) + 300]) for o in offsets]
    with warnings.catch_warnings():
        warnings.simplefilter("error", MultipleFacesWarning)
        raw, landmarks = cropper.track(frames, fps=25.0, smoothing=0.0)
        smooth, _ = cropper.track(frames, fps=25.0, smoothing=0.2)
        fixed, _ = cropper.track(frames, fps=25.0, mode="fixed")
    assert len(raw) == 12 and landmarks.shape == (12, 5, 2)
    expected = reference_x = 224.7 - offsets  # face centre in each frame: photo x minus the offset
    assert np.abs(raw.centers[:, 0] - reference_x).max() < 6
    assert np.abs(np.diff(smooth.centers[:, 0], 2)).mean() < np.abs(np.diff(raw.centers[:, 0], 2)).mean()
    assert np.ptp(fixed.centers[:, 0]) == 0 and abs(fixed.centers[0, 0] - np.median(expected)) < 6
    crop = smooth[5].apply(frames[5])
    assert crop.shape == (256, 256, 3)


def test_model_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = resolve_model_path()
    assert bundled.name.endswith(".task") and bundled.stat().st_size > 1_000_000
    fake = tmp_path / "explicit.task"
    fake.write_bytes(b"x")
    assert resolve_model_path(fake) == fake
    monkeypatch.setenv(MODEL_ENV, str(fake))
    assert resolve_model_path() == fake
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "missing.task"))
    with pytest.raises(InputError, match="missing"):
        resolve_model_path()
    with pytest.raises(InputError, match="not found"):
        resolve_model_path(tmp_path / "nope.task")


def _photo_with_portrait(
    astronaut: np.ndarray, fraction: float, x: int = 1200
) -> tuple[np.ndarray, np.ndarray]:
    """A 4000x3000 photo with the astronaut portrait pasted at `fraction` of its width; also the
    face's expected centre (from the portrait's own detection)."""
    side = int(4000 * fraction)
    photo = np.full((3000, 4000, 3), 70, np.uint8)
    y = 1500 - side // 2
    photo[y : y + side, x : x + side] = np.asarray(
        Image.fromarray(astronaut).resize((side, side), Image.BICUBIC)
    )
    return photo, np.array([x, y]) + np.array([225.5, 124.6]) / 512 * side


@pytest.mark.parametrize("fraction", [0.15, 0.25, 0.40])
def test_a_portrait_pasted_small_in_a_large_photo_is_found_and_cropped(
    cropper: FaceCropper, astronaut: np.ndarray, fraction: float
) -> None:
    """The whole-photo pass misses these; the tiled search finds them at full-resolution accuracy."""
    photo, centre = _photo_with_portrait(astronaut, fraction)
    assert cropper._detect_once(photo, None) == []  # what the whole-photo pass alone gives
    crop, transform = cropper.crop_image(photo, name="big.jpg")
    faces = cropper.detect(photo)
    assert len(faces) == 1 and np.abs(faces[0].centre - centre).max() < 0.01 * 4000 * fraction
    # the same framing as the portrait's own crop, scaled with it
    _, own = cropper.crop_image(astronaut)
    assert abs(transform.side / (own.side * fraction * 4000 / 512) - 1) < 0.03
    assert crop.shape == (256, 256, 3)


def test_a_face_is_picked_by_number_or_position(cropper: FaceCropper, astronaut: np.ndarray) -> None:
    """Two faces: the largest by default (the search stops at the coarsest tiles that hold a face);
    --face 2 / a point select the small one, which only the finer tiles find."""
    from pirender.motion.faces import FaceSelect

    photo, big = _photo_with_portrait(astronaut, 0.4, x=200)
    photo[1800:2400, 3000:3600] = np.asarray(Image.fromarray(astronaut).resize((600, 600)))
    small = np.array([3000, 1800]) + np.array([225.5, 124.6]) / 512 * 600
    assert np.abs(cropper.crop_transform(photo).center_x - big[0]) < 40
    for choice in (FaceSelect(index=2), FaceSelect(at=(3300.0, 1950.0)), FaceSelect(at=(3900.0, 2900.0))):
        face = cropper.largest_face(photo, face=choice)
        assert np.abs(face.centre - small).max() < 10, choice
    assert np.abs(cropper.largest_face(photo, face=FaceSelect(index=1)).centre - big).max() < 20
    with pytest.raises(InputError, match="face 3 asked for, 2 found"):
        cropper.largest_face(photo, face=FaceSelect(index=3), name="two.jpg")
    with pytest.raises(InputError, match="no face found"):
        cropper.largest_face(np.full((3000, 4000, 3), 70, np.uint8), face=FaceSelect(index=1))
    with pytest.raises(InputError, match="1 or more"):
        FaceSelect(index=0)


def test_a_selected_face_is_followed_through_a_video(cropper: FaceCropper, astronaut: np.ndarray) -> None:
    from pirender.motion.faces import FaceSelect

    face = astronaut[20:260, 110:350]
    small = np.asarray(Image.fromarray(face).resize((150, 150)))
    frames = []
    for t in range(6):  # the small face drifts right; the large one stays
        canvas = np.full((300, 480, 3), 200, np.uint8)
        canvas[30:270, 0:240] = face
        canvas[75:225, 290 + 4 * t : 440 + 4 * t] = small
        frames.append(canvas)
    crops, _ = cropper.track(frames, fps=25.0, smoothing=0.0, face=FaceSelect(at=(365.0, 150.0)))
    assert np.all(crops.centers[:, 0] > 300) and crops.centers[-1, 0] > crops.centers[0, 0] + 10
    with pytest.warns(MultipleFacesWarning, match="following the largest"):
        largest, _ = cropper.track(frames, fps=25.0, smoothing=0.0)
    assert np.all(largest.centers[:, 0] < 240)
