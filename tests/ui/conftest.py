"""Tiny random models for the web app tests: a 64-px renderer, an extractor and an audio motion model.

They exercise the app's plumbing (upload -> crop -> coefficients -> render -> files) in seconds; the
images they make are noise-like, which is enough to check that a slider changes the output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

if TYPE_CHECKING:
    from pirender.ui.handlers import AppModels

pytest.importorskip("gradio", reason="the web app needs gradio (pip install 'pirender[ui]')")

TINY_SIZE = 64


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Render with one thread: on a shared 2-core machine under load, two OpenMP threads wait on each
    other and a tiny 64-px frame takes ~1 s instead of ~20 ms (measured)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_renderer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pirender

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("renderer")
    pirender.PIRenderer(pirender.RendererConfig.tiny(), image_size=TINY_SIZE).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_extractor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random SynthHead regressor whose outputs stay near the neutral coefficients (small std)."""
    from safetensors.torch import save_file

    from pirender.motion.extract.synthhead import SynthHeadNet, SynthHeadNetConfig, targets_from_coeffs
    from pirender.synth import EXPRESSION_CONTROLS, neutral_coeffs

    slots = tuple(EXPRESSION_CONTROLS.values())
    mean = targets_from_coeffs(neutral_coeffs()[None], slots)[0]
    config = SynthHeadNetConfig(
        input_size=32,
        widths=(8, 8, 8, 8, 8),
        blocks=(1, 1, 1, 1),
        control_names=tuple(EXPRESSION_CONTROLS),
        control_slots=slots,
        target_mean=tuple(float(v) for v in mean),
        target_std=tuple([0.05] * len(mean)),
    )
    torch.manual_seed(1)
    net = SynthHeadNet(config)
    path = tmp_path_factory.mktemp("extractor") / "extractor.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    path.with_suffix(".json").write_text(config.to_json(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_motion_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pirender.audio.config import AudioFlowConfig
    from pirender.audio.model import MotionFlow

    torch.manual_seed(2)
    config = AudioFlowConfig(
        audio_hidden=16, audio_dim=8, flow_steps=2, coupling_hidden=16, prior_hidden=16, audio_channels=4
    )
    model = MotionFlow(config)
    d = config.motion_dim
    model.set_statistics(
        motion_mean=torch.zeros(d),
        motion_std=torch.full((d,), 0.05),
        mel_mean=torch.zeros(config.n_mels),
        mel_std=torch.ones(config.n_mels),
    )
    directory = tmp_path_factory.mktemp("motion_model")
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def app_models(
    tiny_renderer: Path,
    tiny_extractor: Path,
    tiny_motion_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AppModels:
    from pirender.pipelines.models import ExtractorSpec
    from pirender.ui.handlers import AppModels

    return AppModels(
        renderer=tiny_renderer,
        motion_model=tiny_motion_model,
        extractor=ExtractorSpec(checkpoint=str(tiny_extractor)),
        output_dir=tmp_path_factory.mktemp("ui_outputs"),
    )


@pytest.fixture(scope="session")
def faceless_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 96x72 synthetic PNG with no face in it (the upload in the tests)."""
    from PIL import Image

    path = tmp_path_factory.mktemp("inputs") / "gradient.png"
    Image.fromarray(gradient_image(96, 72)).save(path)
    return path


def gradient_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A synthetic (height, width, 3) uint8 picture with no face in it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256], axis=-1)
    image = image + rng.integers(0, 30, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)
