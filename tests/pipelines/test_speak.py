"""Audio-driven reenactment: duration follows the audio, the speech is muxed, K samples, pose reference."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
import torch

import pirender
from pirender.audio.config import AudioFlowConfig
from pirender.audio.model import MotionFlow
from pirender.motion.coeffs import CROP, POSE
from pirender.motion.sequence import Motion

from .conftest import SIZE, make_coeffs


@pytest.fixture(scope="module")
def motion_model(assets: dict[str, Path]) -> Path:
    torch.manual_seed(0)
    config = AudioFlowConfig(
        kind="gaussian", audio_channels=4, audio_hidden=16, audio_dim=8, prior_hidden=16, coupling_hidden=16
    )
    model = MotionFlow(config)
    model.motion_std.fill_(0.05)  # keep random motion in a plausible coefficient range
    path = assets["root"] / "audio_flow"
    model.save_pretrained(path)
    return path


@pytest.mark.parametrize("model", ["tiny", "shipped"])
def test_speak_duration_matches_audio_and_has_audio(
    assets: dict[str, Path], motion_model: Path, tmp_path: Path, model: str
) -> None:
    from pirender.pipelines.models import DEFAULT_MOTION_MODEL

    if model == "shipped" and not (DEFAULT_MOTION_MODEL / "model.safetensors").is_file():
        pytest.skip(f"the audio model is not installed yet ({DEFAULT_MOTION_MODEL})")
    speech = assets["root"] / "speech_1s.wav"
    soundfile.write(speech, (0.1 * np.sin(np.arange(16000) / 10)).astype(np.float32), 16000)
    out = pirender.speak(
        assets["source"],
        speech,
        renderer=assets["renderer"],
        motion_model=motion_model if model == "tiny" else None,  # None = the shipped model
        source_coeffs=assets["source_coeffs"],
        output=tmp_path / "talk.mp4",
        fps=10,
    )
    with av.open(str(out)) as container:
        assert len(container.streams.audio) == 1
        frames = sum(1 for _ in container.decode(video=0))
        assert container.streams.video[0].codec_context.width == SIZE
    assert frames / 10 == pytest.approx(1.0, abs=0.1)  # 1 s of speech -> 10 frames at 10 fps


def test_samples_side_by_side_separate_and_pose_reference(
    assets: dict[str, Path], motion_model: Path, tmp_path: Path
) -> None:
    audio = ((0.1 * np.sin(np.arange(8000) / 7)).astype(np.float32), 16000)  # 0.5 s
    kwargs = {
        "renderer": assets["renderer"],
        "motion_model": motion_model,
        "source_coeffs": assets["source_coeffs"],
    }
    video = pirender.speak(assets["source"], audio, samples=2, seed=3, fps=10, **kwargs)
    assert video.size == (2 * SIZE, SIZE) and len(video) == 5
    frames = video.to_array()
    assert not np.array_equal(frames[:, :, :SIZE], frames[:, :, SIZE:])  # two different samples
    again = pirender.speak(assets["source"], audio, samples=2, seed=3, fps=10, **kwargs).to_array()
    np.testing.assert_array_equal(frames, again)  # same seed, same video
    paths = pirender.speak(
        assets["source"], audio, samples=2, separate=True, output=tmp_path / "s.mp4", fps=10, **kwargs
    )
    assert [p.name for p in paths] == ["s_0.mp4", "s_1.mp4"] and all(p.is_file() for p in paths)


def test_pose_from_reference_keeps_its_pose(
    assets: dict[str, Path], motion_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pirender.pipelines.speak as speak_module

    rendered: list[np.ndarray] = []
    original = speak_module.render_coeffs

    def capture(engine: object, tensor: torch.Tensor, coeffs: np.ndarray, **kw: object) -> object:
        rendered.append(coeffs)
        return original(engine, tensor, coeffs, **kw)

    monkeypatch.setattr(speak_module, "render_coeffs", capture)
    reference = make_coeffs(3, 12)
    own = Motion.load(assets["source_coeffs"]).coeffs[0]
    samples = (0.1 * np.sin(np.arange(8000) / 7)).astype(np.float32)  # 0.5 s -> 5 frames at 10 fps
    kwargs = {"renderer": assets["renderer"], "motion_model": motion_model, "source_coeffs": own, "fps": 10}
    video = pirender.speak(assets["source"], (samples, 16000), pose_from=reference, **kwargs)
    assert len(video.to_array()) == 5
    (coeffs,) = rendered
    # the reference pose, looped back and forth (0 1 2 1 0); the crop is the source's own
    np.testing.assert_array_equal(coeffs[:, POSE], reference[[0, 1, 2, 1, 0]][:, POSE])
    np.testing.assert_array_equal(coeffs[:, CROP], np.repeat(own[None, CROP], 5, axis=0))
    free = pirender.speak(assets["source"], (samples, 16000), **kwargs)
    free.to_array()
    assert not np.array_equal(rendered[1][:, POSE], coeffs[:, POSE])  # without it, the pose is sampled
    np.testing.assert_array_equal(rendered[1][:, :64], coeffs[:, :64])  # same seed: same expression
