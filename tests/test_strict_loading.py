"""Every model we ship loads through one strict loader (weights/strict.py): a missing, an unexpected
or a mis-shaped tensor is one CheckpointError naming the file and each mismatch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import pirender
from pirender.audio.model import MotionFlow
from pirender.errors import CheckpointError
from pirender.motion.extract.synthhead import DEFAULT_WEIGHTS, SynthHeadExtractor
from pirender.pipelines.models import DEFAULT_MOTION_MODEL


def _tamper(weights: Path) -> None:
    """Drop one tensor, add one, reshape one."""
    state = load_file(str(weights))
    keys = sorted(k for k, v in state.items() if v.is_floating_point() and v.ndim > 0)
    del state[keys[0]]
    state["stray.weight"] = torch.zeros(2)
    state[keys[1]] = torch.zeros(*state[keys[1]].shape, 2)
    save_file(state, str(weights))


def _expect_mismatch(load, weights: Path, what: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        load()
    message = str(caught.value)
    assert str(weights) in message and f"do not match the {what} architecture" in message
    assert "missing 1 keys" in message and "unexpected 1 keys" in message and "1 shape mismatches" in message
    assert "\n" not in message


def test_renderer_audio_flow_and_extractor_load_strictly(tmp_path: Path) -> None:
    renderer = tmp_path / "renderer"
    pirender.PIRenderer(pirender.RendererConfig.tiny()).save_pretrained(renderer)
    _tamper(renderer / "model.safetensors")
    _expect_mismatch(lambda: pirender.load_renderer(renderer), renderer, "renderer")

    flow = tmp_path / "audio_flow"
    shutil.copytree(DEFAULT_MOTION_MODEL, flow)
    MotionFlow.load(flow)  # the untouched copy loads
    _tamper(flow / "model.safetensors")
    _expect_mismatch(lambda: MotionFlow.load(flow), flow / "model.safetensors", "motion flow")

    extractor = tmp_path / "extractor.safetensors"
    shutil.copy(DEFAULT_WEIGHTS, extractor)
    shutil.copy(DEFAULT_WEIGHTS.with_suffix(".json"), extractor.with_suffix(".json"))
    SynthHeadExtractor.load(extractor)
    _tamper(extractor)
    _expect_mismatch(lambda: SynthHeadExtractor.load(extractor), extractor, "SynthHead extractor")
