"""A missing optional extra is a user error that names the extra, in every front end."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pirender.extras import EXTRA_OF_MODULE, MissingExtraError, missing_extra

ROOT = Path(__file__).resolve().parents[1]


def test_the_map_mirrors_pyproject() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    listed = {
        re.split(r"[<>=\[ ]", requirement)[0].replace("-", "_"): extra
        for extra in ("faces", "onnx", "ui", "train", "serve", "ray")
        for requirement in extras[extra]
    }
    assert listed == EXTRA_OF_MODULE


def test_only_optional_modules_are_user_errors() -> None:
    error = missing_extra(ModuleNotFoundError("No module named 'mediapipe.tasks'", name="mediapipe.tasks"))
    assert isinstance(error, MissingExtraError)
    assert str(error) == 'this needs mediapipe, from the faces extra: pip install "pirender[faces]"'
    assert missing_extra(ModuleNotFoundError("No module named 'numpy'", name="numpy")) is None
    assert missing_extra(ImportError("cannot import name 'x'")) is None


def test_crop_without_the_faces_extra_says_which_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pirender.cli.main import main

    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((300, 400, 3), 120, np.uint8)).save(photo)
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # import mediapipe -> ModuleNotFoundError
    code = main(["crop", str(photo), "-o", str(tmp_path / "crop.png")])
    err = capsys.readouterr().err.strip()
    assert (
        code == 1
        and err
        == 'pirender crop: error: this needs mediapipe, from the faces extra: pip install "pirender[faces]"'
    )
    assert not (tmp_path / "crop.png").exists()


def test_the_web_ui_shows_a_missing_extra_as_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    gr = pytest.importorskip("gradio")
    from pirender.ui.app import user_errors

    @user_errors
    def upload() -> None:
        import mediapipe  # noqa: F401

    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(gr.Error, match=r"pip install \"pirender\[faces\]\""):
        upload()
