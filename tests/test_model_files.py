"""weights/files.py: every model's config + weights pair is written and read one way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pirender.errors import CheckpointError
from pirender.weights import files
from pirender.weights.files import read_model_files, write_model_files


def _write(tmp_path: Path, value: float = 1.0) -> tuple[Path, Path]:
    config, weights = tmp_path / "m.json", tmp_path / "m.safetensors"
    write_model_files(config, weights, {"format_version": 1, "v": value}, {"w": torch.full((2, 3), value)})
    return config, weights


def test_round_trip_and_nothing_left_behind(tmp_path: Path) -> None:
    config, weights = _write(tmp_path)
    meta, state = read_model_files(config, weights, what="test model")
    assert meta == {"format_version": 1, "v": 1.0}
    torch.testing.assert_close(state["w"], torch.ones(2, 3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]


def test_a_failed_write_keeps_the_old_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, weights = _write(tmp_path, 1.0)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(files.json, "dumps", broken)
    with pytest.raises(OSError, match="disk full"):
        write_model_files(config, weights, {"v": 2.0}, {"w": torch.zeros(1)})
    monkeypatch.undo()
    meta, state = read_model_files(config, weights, what="test model")
    assert meta["v"] == 1.0 and state["w"].shape == (2, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda c, w: c.unlink(), "not found"),
        (lambda c, w: w.unlink(), "not found"),
        (lambda c, w: c.write_text("{not json"), "invalid JSON"),
        (lambda c, w: c.write_text(json.dumps([1, 2])), "a JSON list"),
        (lambda c, w: w.write_bytes(b"\x00" * 20), "unreadable safetensors"),
    ],
)
def test_every_failure_is_one_checkpoint_error(tmp_path: Path, damage, message: str) -> None:
    config, weights = _write(tmp_path)
    damage(config, weights)
    with pytest.raises(CheckpointError, match=message) as info:
        read_model_files(config, weights, what="test model")
    assert "\n" not in str(info.value)


def test_all_three_models_read_through_it(tmp_path: Path) -> None:
    """A corrupt weights file is the same one-line error for the renderer, the flow and the extractor."""
    import shutil

    from pirender.audio.model import MotionFlow
    from pirender.models.loading import load_renderer
    from pirender.motion.extract.synthhead import DEFAULT_WEIGHTS, SynthHeadExtractor
    from pirender.pipelines.models import resolve_motion_model_path, resolve_renderer_path

    renderer = shutil.copytree(resolve_renderer_path(None), tmp_path / "renderer")
    flow = shutil.copytree(resolve_motion_model_path(None), tmp_path / "flow")
    extractor = tmp_path / "extractor.safetensors"
    shutil.copy(DEFAULT_WEIGHTS.with_suffix(".json"), extractor.with_suffix(".json"))
    for weights in (renderer / "model.safetensors", flow / "model.safetensors", extractor):
        weights.write_bytes(b"\x00" * 20)
    for load, path in (
        (load_renderer, renderer),
        (MotionFlow.load, flow),
        (SynthHeadExtractor.load, extractor),
    ):
        with pytest.raises(CheckpointError, match="unreadable safetensors file"):
            load(path)
