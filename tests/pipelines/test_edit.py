"""Editing through the Python API: reconstruction, pose/expression edits, sweeps, grids, files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

import pirender
from pirender.engine.core import to_uint8
from pirender.media.image import load_image
from pirender.motion.coeffs import constant_windows
from pirender.motion.sequence import Motion
from pirender.pipelines.source import prepare_source

from .conftest import SIZE, make_coeffs


def test_edit_with_own_coefficients_is_the_reconstruction(assets: dict[str, Path], engine: object) -> None:
    own = Motion.load(assets["source_coeffs"]).coeffs[0]
    edited = pirender.edit(assets["source"], renderer=assets["renderer"], source_coeffs=own)
    tensor = prepare_source(load_image(assets["source"]), size=SIZE).tensor
    window = constant_windows(own[None], engine.config.window)  # type: ignore[attr-defined]
    reconstruction = to_uint8(engine.render(tensor, window).image)[0]  # type: ignore[attr-defined]
    assert edited.shape == (SIZE, SIZE, 3) and edited.dtype == np.uint8
    np.testing.assert_array_equal(edited, reconstruction)


def test_pose_and_expression_edits_change_the_image(assets: dict[str, Path]) -> None:
    kwargs = {"renderer": assets["renderer"], "source_coeffs": assets["source_coeffs"]}
    base = pirender.edit(assets["source"], **kwargs)
    turned = pirender.edit(assets["source"], yaw=25, **kwargs)
    smiling = pirender.edit(assets["source"], preset="smile", **kwargs)
    # a random tiny renderer reacts weakly to its coefficients, but it does react
    assert not np.array_equal(turned, base) and not np.array_equal(smiling, base)
    assert not np.array_equal(turned, smiling)
    # an explicit expression source: the motion file's frame 0 expression replaces the source's
    other = make_coeffs(1, 11)
    motion_file = assets["root"] / "expr.npz"
    Motion(coeffs=other).save(motion_file)
    copied = pirender.edit(assets["source"], expression_from=motion_file, **kwargs)
    own = Motion.load(assets["source_coeffs"]).coeffs[0].copy()
    own[:64] = other[0, :64]
    np.testing.assert_array_equal(
        copied, pirender.edit(assets["source"], renderer=assets["renderer"], source_coeffs=own)
    )


def test_sweep_video_and_grid(assets: dict[str, Path], tmp_path: Path) -> None:
    kwargs = {"renderer": assets["renderer"], "source_coeffs": assets["source_coeffs"]}
    video = pirender.edit(assets["source"], sweep=["yaw:-20:20:3", "smile:0:1:2"], fps=10, **kwargs)
    frames = video.to_array()
    assert frames.shape == (5, SIZE, SIZE, 3) and video.fps == 10
    # each sweep frame equals the same edit rendered alone (constant windows, no temporal mixing),
    # up to float rounding of a batched vs a single mapping-network call (<= 1 grey level)
    first = pirender.edit(assets["source"], yaw=-20, **kwargs)
    last = pirender.edit(assets["source"], exp={"smile": 1.0}, **kwargs)
    assert (
        np.abs(frames[0].astype(int) - first).max() <= 1 and np.abs(frames[4].astype(int) - last).max() <= 1
    )
    grid = pirender.edit(assets["source"], sweep=["yaw:-20:20:3", "preset:smile,frown"], grid=True, **kwargs)
    assert grid.shape == (2 * SIZE, 3 * SIZE, 3)
    assert np.abs(grid[:SIZE, :SIZE].astype(int) - frames[0]).max() <= 1
    assert (grid[SIZE:, 2 * SIZE :] == 255).all()  # the short second row is padded with white
    out = pirender.edit(assets["source"], sweep="pitch:-10:10:4", output=tmp_path / "s.mp4", **kwargs)
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 4
    png = pirender.edit(assets["source"], roll=10, output=tmp_path / "e.png", **kwargs)
    assert load_image(png).shape == (SIZE, SIZE, 3)


def test_grid_needs_a_sweep(assets: dict[str, Path]) -> None:
    with pytest.raises(pirender.InputError, match="sweep"):
        pirender.edit(
            assets["source"], grid=True, renderer=assets["renderer"], source_coeffs=assets["source_coeffs"]
        )
