"""A tiny talking-head generator for the audio tests (no dependency on pirender.synth).

Like SynthHead's talking mode: the mouth (exp slot 0, jaw_open in [0, 1]) follows the loudness
envelope of syllable-like voiced audio, blinks and head pose are random and independent of it, the
other expression slots stay zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch

from pirender.audio.config import AudioFlowConfig, AudioTrainConfig
from pirender.audio.data import MotionAudioClip, make_clip

SR = 16000
FPS = 25.0


def talking_arrays(seed: int, num_frames: int, fps: float = FPS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(motion (T, 73) float32, audio (N,) float32 at 16 kHz, mouth_open (T,))."""
    rng = np.random.default_rng(seed)
    n = int(round(num_frames / fps * SR))
    t = np.arange(n) / SR
    # syllables: 120-300 ms bursts separated by 40-250 ms gaps
    envelope = np.zeros(n)
    pos = rng.uniform(0.0, 0.2)
    while pos < t[-1]:
        length = rng.uniform(0.12, 0.3)
        mask = (t >= pos) & (t < pos + length)
        envelope[mask] = np.sin(np.pi * (t[mask] - pos) / length) * rng.uniform(0.6, 1.0)
        pos += length + rng.uniform(0.04, 0.25)
    f0 = rng.uniform(100, 220)
    voiced = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) / k for k in range(1, 8))
    audio = (0.25 * envelope * voiced + 0.003 * rng.standard_normal(n)).astype(np.float32)
    frame_t = (np.arange(num_frames) + 0.5) / fps
    mouth = np.interp(frame_t, t, envelope)
    motion = np.zeros((num_frames, 73), dtype=np.float32)
    motion[:, 0] = np.clip(mouth, 0.0, 1.0)
    blinks = rng.random(num_frames) < 0.03
    motion[:, 5] = motion[:, 6] = np.convolve(blinks.astype(float), [0.5, 1.0, 0.5], mode="same").clip(0, 1)
    pose = np.zeros((num_frames, 6))
    velocity = np.zeros(6)
    scale = np.array([0.1, 0.15, 0.05, 0.02, 0.02, 0.01])
    for i in range(1, num_frames):  # smooth, mean-reverting random head motion
        velocity = 0.9 * velocity + 0.02 * scale * rng.standard_normal(6) * 3
        pose[i] = 0.98 * pose[i - 1] + velocity
    motion[:, 64:70] = pose
    motion[:, 70:73] = (1.0, 128.0, 128.0)
    return motion, audio, motion[:, 0].copy()


def talking_clip(seed: int, num_frames: int) -> MotionAudioClip:
    motion, audio, _ = talking_arrays(seed, num_frames)
    return make_clip(f"clip{seed}", motion, audio, SR, FPS)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """These models are tiny: one thread is faster, and two spin against each other on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def make_talking() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return talking_arrays


@pytest.fixture(scope="session")
def talking_clips() -> list[MotionAudioClip]:
    return [talking_clip(seed, 80) for seed in range(6)]


@pytest.fixture(scope="session")
def small_config() -> AudioFlowConfig:
    return AudioFlowConfig(
        audio_context=4,
        audio_channels=8,
        audio_dim=16,
        history=2,
        flow_steps=2,
        coupling_hidden=32,
        prior_hidden=32,
    )


@pytest.fixture(scope="session")
def short_training() -> AudioTrainConfig:
    return AudioTrainConfig(
        steps=6, batch_size=4, crop_frames=16, lr=3e-3, warmup_steps=2, log_every=3, checkpoint_every=3
    )
