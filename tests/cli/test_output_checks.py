"""A read-only output folder is refused before any work, in every command that writes, and the
message names the output (never the hidden temporary file it would have been written as).

Tests run as root here, for whom a chmod'ed folder stays writable, so the folder is made read-only by
making os.access say so, which is what the checks ask."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pirender.cli.main import main
from pirender.media.image import save_image


@pytest.fixture
def read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "ro"
    folder.mkdir()
    real = os.access

    def access(path: str | os.PathLike[str], mode: int, **kwargs: object) -> bool:
        if mode & os.W_OK and Path(path).resolve() == folder.resolve():
            return False
        return real(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    return folder


def _no_work(monkeypatch: pytest.MonkeyPatch, *targets: str) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("work started before the output was checked")

    for target in targets:
        module, name = target.rsplit(".", 1)
        monkeypatch.setattr(module + "." + name, boom)


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], output: Path) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(output) in err[0] and "not writable" in err[0] and ".part" not in err[0], err[0]
    assert not any(p.name.startswith(".") for p in output.parent.iterdir())


def test_crop_and_extract(
    tmp_path: Path, read_only: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "face.png"
    save_image(image, np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8))
    _no_work(
        monkeypatch, "pirender.motion.extract.pipeline.track_crops", "pirender.cli.extract._build_extractor"
    )
    _refused(["crop", str(image), "-o", str(read_only / "c.png")], capsys, read_only / "c.png")
    _refused(["crop", str(tmp_path), "-o", str(read_only / "crops")], capsys, read_only / "crops")
    out = read_only / "m.npz"
    _refused(["extract", str(image), "-o", str(out), "--extractor", "synthhead"], capsys, out)


def test_convert_export_and_demo(
    tmp_path: Path, read_only: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = tmp_path / "official.pt"
    checkpoint.write_bytes(b"never read")
    _no_work(
        monkeypatch, "pirender.weights.official.read_checkpoint", "pirender.models.loading.load_renderer"
    )
    _refused(["convert", str(checkpoint), str(read_only / "model")], capsys, read_only / "model")
    pytest.importorskip("onnx")
    out = read_only / "r.onnx"
    _refused(["export-onnx", str(checkpoint), str(out)], capsys, out)
    _refused(["demo", "-o", str(read_only / "demo")], capsys, read_only / "demo")
