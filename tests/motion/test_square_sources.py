"""Square sources under crop="auto": a photo whose face fills less than the renderer's framing is
cropped and pasted back; a true face crop is used as it is; empty, tiny and faceless sources are errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pirender.errors import InputError
from pirender.media.image import save_image
from pirender.pipelines.source import is_framed, prepare_source

from .conftest import requires_faces


@requires_faces
def test_a_square_photo_is_cropped_around_its_face(astronaut: np.ndarray) -> None:
    prepared = prepare_source(astronaut, size=128)
    assert prepared.transform is not None  # cropped, not the whole 512x512 scene squeezed to 128
    t = prepared.transform
    assert 0.25 < t.side / 512 < 0.45 and 150 < t.center_x < 300 and 60 < t.center_y < 200
    assert prepared.output_shape() == (512, 512)
    pasted = prepared.paste(np.zeros((128, 128, 3), np.uint8))
    assert pasted.shape == astronaut.shape
    assert np.array_equal(pasted[400:, :100], astronaut[400:, :100])  # outside the face: the photo


@requires_faces
def test_a_face_crop_is_used_as_it_is(astronaut: np.ndarray) -> None:
    from pirender.motion.faces import FaceCropper

    with FaceCropper(size=256) as cropper:
        crop, _ = cropper.crop_image(astronaut)  # a VoxCeleb-style 256x256 crop
    prepared = prepare_source(crop, size=128)
    assert prepared.transform is None and prepared.output_shape() == (128, 128)


@requires_faces
def test_synthhead_renders_are_framed_crops() -> None:
    from pirender.synth import Identity, SynthHead, random_motion

    for seed in (3, 17):
        head, motion = SynthHead(Identity.from_seed(seed), 128), random_motion(seed, 60, 25.0)
        for t in (0, 59):
            assert prepare_source(head.render(motion[t]), size=128).transform is None


def test_is_framed_tolerances() -> None:
    from pirender.motion.crop import CropTransform

    def box(cx: float, cy: float, side: float) -> CropTransform:
        return CropTransform(cx, cy, side, 128, 200, 200)

    assert is_framed(box(100, 100, 200))
    assert is_framed(box(125, 80, 130))
    assert not is_framed(box(140, 100, 200))  # centred 20% off
    assert not is_framed(box(100, 100, 100))  # the face fills half the framing
    assert not is_framed(CropTransform(100, 100, 200, 128, 300, 200))  # not square


@pytest.mark.parametrize("crop", ["auto", "never", "always"])
def test_empty_and_tiny_sources_are_one_line_errors(tmp_path: Path, crop: str) -> None:
    save_image(tmp_path / "grey.png", np.full((128, 128, 3), 77, np.uint8))
    save_image(tmp_path / "dot.png", np.full((1, 1, 3), 200, np.uint8))
    with pytest.raises(InputError, match=r"^source grey\.png: the image is a single colour"):
        prepare_source(tmp_path / "grey.png", size=64, crop=crop)
    with pytest.raises(InputError, match=r"^source dot\.png: 1x1 is too small for a face \(at least 32 px"):
        prepare_source(tmp_path / "dot.png", size=64, crop=crop)


@requires_faces
def test_noise_is_no_face(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    save_image(tmp_path / "noise.png", noise)
    with pytest.raises(InputError, match=r"^source noise\.png: no face found$"):
        prepare_source(tmp_path / "noise.png", size=64)
    assert prepare_source(noise, size=64, crop="never").transform is None  # the user's word stands
