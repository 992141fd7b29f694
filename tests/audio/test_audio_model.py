"""MotionFlow and generate_motion: shapes, determinism, pose-from, files, sampling == likelihood path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pirender.audio import AudioFlowConfig, MotionFlow, generate_motion
from pirender.audio.data import clip_batch, make_clip, statistics
from pirender.audio.generate import mirror_loop
from pirender.errors import CheckpointError, InputError


def _model(config: AudioFlowConfig, clips, seed: int = 0) -> MotionFlow:
    """A model with data statistics and random (non-zero) weights in every layer."""
    torch.manual_seed(seed)
    model = MotionFlow(config)
    model.set_statistics(**statistics(clips))
    batch = clip_batch(clips[0], history=config.history, audio_context=config.audio_context)
    model.train()
    model.log_prob(batch["motion"], batch["valid"], batch["mel"], batch["mel_index"])  # ActNorm init
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("head.weight", "net.4.weight")):
                p.normal_(0, 0.01)  # the zero-initialised last layers
    return model.eval()


@pytest.mark.parametrize("kind", ["flow", "gaussian", "regressor"])
def test_generate_shapes_and_frame_count(small_config, talking_clips, make_talking, kind) -> None:
    model = _model(AudioFlowConfig(**{**small_config.to_dict(), "kind": kind}), talking_clips)
    _, audio, _ = make_talking(7, 30)  # 1.2 s of speech
    for fps in (25.0, 30.0):
        motion = generate_motion(model, audio, 16000, fps, num_samples=3, temperature=0.8, seed=1)
        assert motion.shape == (3, round(1.2 * fps), 70) and motion.dtype == np.float32
        assert np.all(np.isfinite(motion))


def test_seed_temperature_and_regressor_determinism(small_config, talking_clips, make_talking) -> None:
    flow = _model(small_config, talking_clips)
    _, audio, _ = make_talking(8, 25)
    a = generate_motion(flow, audio, 16000, 25.0, num_samples=4, seed=3)
    b = generate_motion(flow, audio, 16000, 25.0, num_samples=4, seed=3)
    c = generate_motion(flow, audio, 16000, 25.0, num_samples=4, seed=4)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert a[:, :, 64:70].std(0).mean() > 1e-3  # samples differ
    cold = generate_motion(flow, audio, 16000, 25.0, num_samples=4, temperature=0.0, seed=3)
    assert np.allclose(cold, cold[:1], atol=1e-6)  # no noise: every sample is the prior's mean path
    regressor = _model(AudioFlowConfig(**{**small_config.to_dict(), "kind": "regressor"}), talking_clips)
    r = generate_motion(regressor, audio, 16000, 25.0, num_samples=4, seed=5)
    assert np.array_equal(r, generate_motion(regressor, audio, 16000, 25.0, num_samples=4, seed=6))
    assert np.all(r.std(0) == 0)


def test_pose_from_reference_replaces_pose_only(small_config, talking_clips, make_talking) -> None:
    flow = _model(small_config, talking_clips)
    reference, audio, _ = make_talking(9, 50)  # 2 s of speech
    short = reference[:20]  # (20, 73): mirrored to cover 50 frames
    free = generate_motion(flow, audio, 16000, 25.0, num_samples=2, seed=0)
    posed = generate_motion(flow, audio, 16000, 25.0, num_samples=2, seed=0, pose_motion=short)
    assert np.array_equal(posed[:, :, :64], free[:, :, :64])
    expected = short[mirror_loop(20, 50), 64:70]
    assert np.array_equal(posed[0, :, 64:70], expected) and np.array_equal(posed[1, :, 64:70], expected)
    assert list(mirror_loop(3, 7)) == [0, 1, 2, 1, 0, 1, 2]
    with pytest.raises(InputError):
        generate_motion(flow, audio, 16000, 25.0, pose_motion=np.zeros((10, 12)))


def test_sampling_and_likelihood_see_the_same_conditioning(small_config, talking_clips, make_talking) -> None:
    """At temperature 0 each latent is the prior mean; teacher forcing on that sample must agree."""
    flow = _model(small_config, talking_clips)
    _, audio, _ = make_talking(10, 40)
    motion = generate_motion(flow, audio, 16000, 25.0, temperature=0.0)[0]  # (40, 70)
    clip = make_clip("generated", motion, audio, 16000, 25.0)
    batch = clip_batch(clip, history=small_config.history, audio_context=small_config.audio_context)
    with torch.no_grad():
        _, squared_error = flow.log_prob(batch["motion"], batch["valid"], batch["mel"], batch["mel_index"])
    assert squared_error.shape == (1, 40)
    assert float(squared_error.max()) < 1e-8


def test_save_load_round_trip_and_errors(tmp_path: Path, small_config, talking_clips, make_talking) -> None:
    flow = _model(small_config, talking_clips)
    flow.save_pretrained(tmp_path / "m")
    loaded = MotionFlow.load(tmp_path / "m" / "model.safetensors")
    assert loaded.config == flow.config
    _, audio, _ = make_talking(11, 25)
    assert np.array_equal(
        generate_motion(flow, audio, 16000, 25.0, num_samples=2, seed=1),
        generate_motion(loaded, audio, 16000, 25.0, num_samples=2, seed=1),
    )
    with pytest.raises(CheckpointError, match="not found"):
        MotionFlow.load(tmp_path / "missing")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["config"]["flow_steps"] = 3  # the weights no longer match
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="missing"):
        MotionFlow.load(tmp_path / "m")
    meta["config"]["flow_stepz"] = 3
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="flow_stepz"):
        MotionFlow.load(tmp_path / "m")
