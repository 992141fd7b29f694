"""Engine fixtures: the tiny official-format checkpoint and seeded inputs (64x64, batch 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import pirender
from pirender.models.renderer import PIRenderer


@pytest.fixture(scope="session")
def tiny_renderer(tiny_checkpoint: Path) -> PIRenderer:
    return pirender.load_renderer(tiny_checkpoint)


@pytest.fixture(scope="session")
def tiny_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """(source_image (1, 3, 64, 64) in [-1, 1], windows (5, 73, 27)) with realistic crop values."""
    g = torch.Generator().manual_seed(7)
    low = torch.rand(1, 3, 8, 8, generator=g) * 2 - 1
    source = torch.nn.functional.interpolate(low, size=(64, 64), mode="bilinear", align_corners=False)
    windows = torch.randn(5, 73, 27, generator=g) * 0.3
    windows[:, 70:] = torch.tensor([1.2, 128.0, 128.0])[:, None] + 0.5 * torch.randn(5, 3, 1, generator=g)
    return source, windows


@pytest.fixture(autouse=True)
def _one_thread():
    """The tiny model gains nothing from a second thread, and on a shared, loaded 2-core machine every
    OpenMP barrier waits for a descheduled thread (a tiny forward went from ms to seconds)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
