"""atomic_path / atomic_dir: outputs get the usual permissions (not tempfile's owner-only ones), and a
failure leaves nothing behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pirender.config import RendererConfig
from pirender.media.atomic import atomic_dir, atomic_path
from pirender.models.renderer import PIRenderer


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_saved_model_dir_and_files_get_umask_modes(tmp_path: Path, umask_022: None) -> None:
    directory = PIRenderer(RendererConfig.tiny()).save_pretrained(tmp_path / "model")
    assert _mode(directory) == 0o755
    files = sorted(p.name for p in directory.iterdir())
    assert files == ["config.json", "model.safetensors"]
    assert all(_mode(directory / name) == 0o644 for name in files)
    PIRenderer(RendererConfig.tiny()).save_pretrained(directory)  # replacing an existing one
    assert _mode(directory) == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary leftovers


def test_atomic_path_gets_umask_mode(tmp_path: Path, umask_022: None) -> None:
    with atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("done")
    assert _mode(tmp_path / "out.txt") == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failure_leaves_nothing_behind(tmp_path: Path, umask_022: None) -> None:
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "model") as tmp:
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("interrupted")
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("partial")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    old = PIRenderer(RendererConfig.tiny()).save_pretrained(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in old.iterdir()}
    with pytest.raises(RuntimeError), atomic_dir(old) as tmp:
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("interrupted")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert {p.name: p.read_bytes() for p in old.iterdir()} == before  # the old one is untouched
