"""The bundled SynthHead-only renderer says once why a real photo comes back blurred."""

from __future__ import annotations

import numpy as np
import pytest

from pirender.pipelines import models
from pirender.pipelines.base import RendererPipeline
from pirender.pipelines.source import PreparedSource


def test_notice_only_for_the_bundled_renderer_and_a_cropped_real_photo(capsys, monkeypatch) -> None:
    monkeypatch.setattr(models, "_noticed", [])
    assert models.is_bundled_renderer(None) and models.is_bundled_renderer(str(models.DEFAULT_RENDERER))
    assert not models.is_bundled_renderer(object())
    crop = np.zeros((128, 128, 3), np.uint8)
    pipe = RendererPipeline(engine=None, image_size=128, synthetic_only=True)
    pipe.note_source(PreparedSource(crop, crop, None))  # a square SynthHead-style crop: no word
    assert capsys.readouterr().err == ""
    photo = PreparedSource(np.zeros((300, 200, 3), np.uint8), crop, transform=object())
    RendererPipeline(engine=None, image_size=128, synthetic_only=False).note_source(photo)
    assert capsys.readouterr().err == ""  # the user's own renderer: no word
    pipe.note_source(photo)
    pipe.note_source(photo)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1  # once per process, one line
    assert "synthetic" in err and "--renderer" in err and "official PIRender weights" in err


@pytest.mark.slow
def test_edit_of_a_real_photo_with_the_bundled_renderer_says_so(tmp_path, capsys, monkeypatch) -> None:
    pytest.importorskip("mediapipe")
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image

    from pirender.cli.main import main

    monkeypatch.setattr(models, "_noticed", [])
    photo = tmp_path / "astronaut.png"
    Image.fromarray(skimage_data.astronaut()).save(photo)
    assert main(["edit", "--source", str(photo), "--yaw", "10", "-o", str(tmp_path / "out.png")]) == 0
    err = capsys.readouterr().err
    assert err.count("trained on synthetic SynthHead heads only") == 1
