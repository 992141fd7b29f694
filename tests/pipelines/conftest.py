"""Fixtures for the pipeline tests: a tiny random renderer, 64x64 images, short motions with audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

import pirender
from pirender.media.image import save_image
from pirender.motion.sequence import Motion

SIZE = 64
FPS = 12.5
NUM_FRAMES = 5


def make_coeffs(num_frames: int, seed: int) -> np.ndarray:
    """(T, 73) plausible coefficients: small exp/angle/trans, crop s ~ 1, tx/ty ~ 128."""
    rng = np.random.default_rng(seed)
    coeffs = np.zeros((num_frames, 73), dtype=np.float32)
    coeffs[:, :64] = rng.normal(0, 0.3, (num_frames, 64))
    coeffs[:, 64:67] = rng.normal(0, 0.1, (num_frames, 3))
    coeffs[:, 67:70] = rng.normal(0, 0.05, (num_frames, 3))
    coeffs[:, 70] = rng.uniform(0.9, 1.1, num_frames)
    coeffs[:, 71:73] = rng.uniform(120, 136, (num_frames, 2))
    return coeffs


def smooth_image(height: int, width: int, seed: int) -> np.ndarray:
    """(H, W, 3) uint8 with some structure (gradients + a blob), not white noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    blob = np.exp(-((x - 0.5) ** 2 + (y - 0.45) ** 2) / 0.05)
    channels = [np.sin(6 * x + rng.uniform(0, 6)) * 0.3 + blob * rng.uniform(0.3, 0.7) for _ in range(3)]
    return np.clip((np.stack(channels, -1) + 0.3) * 255, 0, 255).astype(np.uint8)


def face_image(size: int, seed: int) -> np.ndarray:
    """(size, size, 3) uint8: SynthHead's neutral frontal render of identity `seed`, a framed face crop
    (what `crop="auto"` uses as it is)."""
    from pirender.synth import Identity, SynthHead, neutral_coeffs

    return SynthHead(Identity.from_seed(seed), size).render(neutral_coeffs())


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    """The tiny renderer is faster on one thread, and far faster when other processes share the cores."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files shared by the tests (read-only): renderer dir, source image, motion files, audio."""
    root = tmp_path_factory.mktemp("pipeline_assets")
    torch.manual_seed(0)
    renderer = pirender.PIRenderer(pirender.RendererConfig.tiny(), image_size=SIZE)
    renderer.save_pretrained(root / "renderer")
    save_image(root / "source.png", face_image(SIZE, 0))
    speech = (0.2 * np.sin(2 * np.pi * 220 * np.arange(int(16000 * NUM_FRAMES / FPS)) / 16000)).astype(
        np.float32
    )
    soundfile.write(root / "speech.wav", speech, 16000)
    driving = make_coeffs(NUM_FRAMES, 1)
    Motion(coeffs=driving, fps=FPS, audio_path=str(root / "speech.wav")).save(root / "driving.npz")
    Motion(coeffs=make_coeffs(1, 2), fps=FPS).save(root / "source_coeffs.npz")
    return {
        "root": root,
        "renderer": root / "renderer",
        "source": root / "source.png",
        "driving": root / "driving.npz",
        "source_coeffs": root / "source_coeffs.npz",
        "speech": root / "speech.wav",
    }


@pytest.fixture(scope="session")
def engine(assets: dict[str, Path]) -> object:
    """The RenderEngine the pipelines build for the tiny renderer (same cache)."""
    from pirender.pipelines.models import load_engine

    return load_engine(assets["renderer"])
