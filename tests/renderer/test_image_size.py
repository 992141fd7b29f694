"""A model's image size travels with it: recorded in its folder, returned by load_renderer, and used by
the pipelines whether the model is given as a path, a PIRenderer or an engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pirender
from pirender.cli.main import main
from pirender.engine import RenderEngine
from pirender.errors import CheckpointError, InputError
from pirender.pipelines.edit import EditPipeline
from pirender.pipelines.models import load_engine
from pirender.synth.expression import neutral_coeffs
from pirender.weights.format import CONFIG_FILE


def _sizes(renderer) -> set[int]:
    """The size each way of handing `renderer` to a pipeline resolves to."""
    model = pirender.load_renderer(renderer) if isinstance(renderer, (str, Path)) else renderer
    ways = [renderer, model, RenderEngine(model)]
    return {load_engine(way).image_size for way in ways} | {
        EditPipeline.from_pretrained(way).image_size for way in ways
    }


def test_a_trained_size_and_the_official_size_hold_however_the_model_is_given(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    trained = tmp_path / "trained64"
    pirender.PIRenderer(pirender.RendererConfig.tiny(), image_size=64).save_pretrained(trained)
    assert json.loads((trained / CONFIG_FILE).read_text())["image_size"] == 64
    assert _sizes(trained) == {64}
    assert _sizes(str(tiny_checkpoint)) == {256}  # an official checkpoint: the face model's 256
    converted = tmp_path / "converted"
    assert main(["convert", "-q", str(tiny_checkpoint), str(converted)]) == 0
    assert _sizes(converted) == {256}
    assert main(["convert", "-q", "--image-size", "128", str(tiny_checkpoint), str(tmp_path / "c128")]) == 0
    assert _sizes(tmp_path / "c128") == {128}
    # the pipeline renders at that size: a 64-px model given as an object renders a 100-px photo at 64 px
    photo = np.random.default_rng(0).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    edit = EditPipeline.from_pretrained(pirender.load_renderer(trained))
    out = edit(photo, crop="never", paste_back=False, source_coeffs=neutral_coeffs())
    assert out.shape == (64, 64, 3)


def test_old_model_folders_load_with_the_size_they_recorded(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    pirender.PIRenderer(pirender.RendererConfig.tiny(), image_size=64).save_pretrained(folder)
    meta = json.loads((folder / CONFIG_FILE).read_text())
    del meta["image_size"]
    for provenance, expected in (
        ({"image_size": 128}, 128),
        ({}, 256),
    ):  # format 1, as `pirender train` wrote it
        (folder / CONFIG_FILE).write_text(json.dumps({**meta, "format_version": 1, "provenance": provenance}))
        assert pirender.load_renderer(folder).image_size == expected
    for bad in (0, 30, "128", True):
        (folder / CONFIG_FILE).write_text(json.dumps({**meta, "image_size": bad}))
        with pytest.raises(CheckpointError, match="image_size"):
            pirender.load_renderer(folder)


def test_convert_refuses_an_image_size_the_renderer_cannot_take(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    assert main(["convert", "--image-size", "100", str(tiny_checkpoint), str(out)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--image-size 100" in err and not out.exists()


def test_the_size_has_one_place(tmp_path: Path) -> None:
    """Provenance no longer carries the size: a contradicting one is refused, not silently ignored."""
    with pytest.raises(InputError, match="image_size"):
        pirender.PIRenderer(pirender.RendererConfig.tiny()).save_pretrained(
            tmp_path / "x", provenance={"image_size": 128}
        )
    assert not (tmp_path / "x").exists()
