"""A file reader that wraps a bad value's error still names the file now that the value checks raise
InputError (not a ValueError): model folders, extractor and audio-model configs, crop and motion files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pirender import PIRenderer, RendererConfig, load_renderer
from pirender.errors import CheckpointError, InputError

ASSETS = Path(__file__).resolve().parents[1] / "src" / "pirender" / "assets"


def test_a_model_folder_with_a_bad_config_value_is_a_checkpoint_error(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    PIRenderer(RendererConfig.tiny(), image_size=64).save_pretrained(folder)
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["max_nc"] = 0
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(
        CheckpointError, match=r"config.json: bad config: RendererConfig.max_nc must be a positive"
    ):
        load_renderer(folder)


def test_a_bad_extractor_config_is_a_checkpoint_error(tmp_path: Path) -> None:
    from pirender.motion.extract.synthhead import SynthHeadExtractor

    weights = tmp_path / "x.safetensors"
    shutil.copy(ASSETS / "synthhead_extractor.safetensors", weights)
    config = json.loads((ASSETS / "synthhead_extractor.json").read_text())
    config["nonsense"] = 1
    weights.with_suffix(".json").write_text(json.dumps(config))
    with pytest.raises(
        CheckpointError, match=r"x.json: bad extractor config \(unknown keys \['nonsense'\]\)"
    ):
        SynthHeadExtractor.load(weights)


def test_a_bad_audio_model_config_is_a_checkpoint_error(tmp_path: Path) -> None:
    from pirender.audio import MotionFlow

    folder = tmp_path / "flow"
    shutil.copytree(ASSETS / "audio_flow", folder)
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["kind"] = "spline"
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(
        CheckpointError, match=r"cannot read .*config.json: AudioFlowConfig.kind must be one of"
    ):
        MotionFlow.load(folder)
    meta["model"] = "Other"
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"cannot read .*config.json: not a MotionFlow config"):
        MotionFlow.load(folder)


def test_a_crop_file_with_bad_values_is_an_input_error_naming_it(tmp_path: Path) -> None:
    from pirender.motion.extract.pipeline import CROP_JSON_FORMAT, load_crop_json

    path = tmp_path / "clip.crop.json"
    frames = [{"center": [1.0, 2.0, 3.0], "side": 10.0, "source_size": [64, 48]}] * 2  # centres of 3 values
    path.write_text(json.dumps({"format": CROP_JSON_FORMAT, "size": 32, "frames": frames}))
    with pytest.raises(InputError, match=r"clip.crop.json: not a readable crop file \(crop centers \(3\)"):
        load_crop_json(path)
    path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(
        InputError, match=r"clip.crop.json: not a readable crop file \(not a pirender crop file\)"
    ):
        load_crop_json(path)


def test_a_motion_file_with_bad_crops_is_an_input_error_naming_it(tmp_path: Path) -> None:
    from pirender.motion import Motion
    from pirender.synth.expression import neutral_coeffs

    path = tmp_path / "m.npz"
    coeffs = np.repeat(neutral_coeffs()[None], 3, axis=0)
    np.savez(
        path,
        format_version=1,
        coeffs=coeffs,
        crop_centers=np.zeros((2, 2), np.float32),  # two crops for three frames
        crop_sides=np.ones(2, np.float32),
        crop_size=np.array(32),
        crop_source_size=np.array([64, 64]),
    )
    with pytest.raises(InputError, match=r"m.npz: malformed motion .npz \(Motion has 3 frames but 2 crop"):
        Motion.load(path)


def test_a_preset_with_a_value_that_is_not_a_number_is_an_input_error(tmp_path: Path) -> None:
    """These were bare ValueErrors from float(): now user errors naming the file."""
    from pirender.pipelines.edits import build_edit, load_preset

    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"controls": {"smile": "much"}}))
    with pytest.raises(
        InputError, match=r"odd.json: preset value controls smile must be a number, got 'much'"
    ):
        load_preset(path)
    path.write_text(json.dumps({"exp": "smile"}))
    with pytest.raises(InputError, match=r"odd.json: 'exp' must be an object of NAME: VALUE pairs"):
        load_preset(path)
    with pytest.raises(InputError, match=r"exp smile: 'much' is not a number"):
        build_edit(exp={"smile": "much"})
