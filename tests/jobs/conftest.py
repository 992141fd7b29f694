"""Inputs for the batch and server tests: a tiny renderer, SynthHead faces, a short clip, speech."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

import pirender
from pirender.media.image import save_image
from pirender.motion.sequence import Motion

SIZE = 128  # (x264 output of 64 px frames is not bit-reproducible from run to run; 128 px is)


def _face(seed: int, coeffs: np.ndarray | None = None) -> np.ndarray:
    from pirender.synth import Identity, SynthHead, neutral_coeffs

    return SynthHead(Identity.from_seed(seed), SIZE).render(neutral_coeffs() if coeffs is None else coeffs)


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder: renderer/ (tiny, random), face1.png, face2.png, clip.mp4 (10 frames), speech.wav,
    drive.npz (30 frames), long.npz (300 frames, for a job that runs a while)."""
    from pirender.media.video import VideoWriter
    from pirender.synth import neutral_coeffs

    root = tmp_path_factory.mktemp("batch_inputs")
    torch.manual_seed(0)
    pirender.PIRenderer(pirender.RendererConfig.tiny(), image_size=SIZE).save_pretrained(root / "renderer")
    for seed in (1, 2):
        save_image(root / f"face{seed}.png", _face(seed))
    t = np.arange(16000) / 16000
    speech = 0.2 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
    soundfile.write(root / "speech.wav", speech.astype(np.float32), 16000)
    motion = np.repeat(neutral_coeffs()[None], 30, 0)
    motion[:, 64] = np.linspace(-0.3, 0.3, 30)
    Motion(coeffs=motion, fps=25.0).save(root / "drive.npz")
    Motion(coeffs=np.repeat(motion, 10, 0), fps=25.0).save(root / "long.npz")
    with VideoWriter(root / "clip.mp4", 25.0) as writer:
        for i in range(10):
            frame = neutral_coeffs()
            frame[65] = 0.02 * i
            writer.write(_face(3, frame))
    return root


def six_jobs(renderer: str = "renderer") -> list[dict]:
    """One of each command and two more: the manifest the acceptance runs locally and on Ray."""
    return [
        {"command": "edit", "source": "face1.png", "preset": "jaw_open", "output": "edit/face1_jaw.png"},
        {"command": "edit", "source": "face2.png", "yaw": 12, "exp": ["smile=1"], "output": "edit/face2.png"},
        {"command": "reenact", "source": "face1.png", "driving": "drive.npz", "output": "reenact/face1.mp4"},
        {"command": "reenact", "source": "face2.png", "driving": "drive.npz", "no-audio": True,
         "output": "reenact/face2.mp4"},
        {"command": "speak", "source": "face2.png", "audio": "speech.wav", "seed": 3, "output": "speak/face2.mp4"},
        {"command": "dub", "source": "clip.mp4", "audio": "speech.wav", "output": "dub/clip.mp4"},
    ]  # fmt: skip


def write_manifest(path: Path, jobs: list[dict], renderer: str = "renderer") -> Path:
    lines = [json.dumps({**job, "renderer": renderer}) for job in jobs]
    path.write_text("\n".join(lines) + "\n")
    return path
