"""keep_unchanged: the source's pixels where an edit leaves the render alone, the edit where it does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import pirender
from pirender.media.image import load_image
from pirender.pipelines.keep_unchanged import ChangeMaskConfig, change_mask, keep_unchanged
from pirender.pipelines.source import prepare_source

from .conftest import SIZE


def _images(size: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    source = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    reconstruction = (source.astype(int) // 2 + 60).astype(np.uint8)  # a renderer's imperfect copy
    edited = reconstruction.copy()
    edited[40:60, 50:80] = 255 - edited[40:60, 50:80]  # the edit changes one block
    return source, edited, reconstruction


def test_mask_follows_the_change_not_the_reconstruction_error() -> None:
    source, edited, reconstruction = _images()
    mask = change_mask(edited, reconstruction)
    assert mask.shape == (128, 128) and mask.dtype == np.float32
    assert mask[45:55, 55:75].min() > 0.99  # inside the changed block
    assert mask[:25].max() < 1e-3 and mask[80:].max() < 1e-3  # far from it, despite the reconstruction error
    out = keep_unchanged(source, edited, reconstruction)
    np.testing.assert_array_equal(out[:25], source[:25])
    np.testing.assert_array_equal(out[45:55, 55:75], edited[45:55, 55:75])
    # the seam is feathered: between the block and the far field the mask takes values in between
    assert 0.05 < mask[40:60, 80:90].mean() < 0.95


def test_no_change_gives_the_source_and_scales_with_size() -> None:
    source, _, reconstruction = _images()
    np.testing.assert_array_equal(keep_unchanged(source, reconstruction, reconstruction), source)
    # the seam widths are given at 128 px: at 256 px the mask is the 128-px mask scaled up
    small = change_mask(*_images(128)[1:])
    big_edit, big_rec = (np.kron(a, np.ones((2, 2, 1), dtype=np.uint8)) for a in _images(128)[1:])
    big = change_mask(big_edit, big_rec)
    assert np.abs(big[::2, ::2] - small).mean() < 0.02
    # a wider ramp keeps more of the source at a small change
    weak = reconstruction.copy()
    weak[40:60, 50:80] = np.clip(weak[40:60, 50:80].astype(int) + 10, 0, 255)  # ~0.04 change
    assert change_mask(weak, reconstruction, ChangeMaskConfig(low=0.02, high=0.2))[50, 65] < 0.3
    assert change_mask(weak, reconstruction)[50, 65] > 0.3


def test_edit_keep_unchanged(assets: dict[str, Path], tmp_path: Path) -> None:
    kwargs = {"renderer": assets["renderer"], "source_coeffs": assets["source_coeffs"]}
    crop = prepare_source(load_image(assets["source"]), size=SIZE).crop
    # no edit: nothing changes, so the output is the source crop itself (not the reconstruction)
    np.testing.assert_array_equal(pirender.edit(assets["source"], keep_unchanged=True, **kwargs), crop)
    # the random test renderer reacts weakly to its coefficients: a low ramp makes its change count
    sensitive = ChangeMaskConfig(low=0.0, high=0.005, grow=0, feather=0.5)
    raw = pirender.edit(assets["source"], yaw=25, **kwargs)
    kept = pirender.edit(assets["source"], yaw=25, keep_unchanged=sensitive, **kwargs)
    reconstruction = pirender.edit(assets["source"], **kwargs)
    np.testing.assert_array_equal(kept, keep_unchanged(crop, raw, reconstruction, sensitive))
    assert not np.array_equal(kept, crop) and not np.array_equal(kept, raw)
    # sweeps composite every frame against the one reconstruction
    video = pirender.edit(assets["source"], sweep="yaw:0:25:3", keep_unchanged=sensitive, **kwargs).to_array()
    raw_video = pirender.edit(assets["source"], sweep="yaw:0:25:3", **kwargs).to_array()
    for frame, raw_frame in zip(video, raw_video, strict=True):
        np.testing.assert_array_equal(frame, keep_unchanged(crop, raw_frame, reconstruction, sensitive))


def test_cli_keep_unchanged(assets: dict[str, Path], tmp_path: Path) -> None:
    from pirender.cli.main import main

    output = tmp_path / "kept.png"
    argv = ["edit", "--source", str(assets["source"]), "--renderer", str(assets["renderer"]), "-q",
            "--source-coeffs", str(assets["source_coeffs"]), "--keep-unchanged", "-o", str(output)]  # fmt: skip
    assert main(argv) == 0
    # no pose or expression given: nothing changes, so the written image is the source crop
    np.testing.assert_array_equal(
        load_image(output), prepare_source(load_image(assets["source"]), size=SIZE).crop
    )
