"""Shared test fixtures: the reference vectors in ../shared/reference (or $PIRENDER_REFERENCE_DIR)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
REFERENCE_DIR = Path(os.environ.get("PIRENDER_REFERENCE_DIR", REPO.parent / "shared" / "reference"))


@pytest.fixture(autouse=True, scope="session")
def _torch_threads() -> None:
    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not (REFERENCE_DIR / "tiny_official_format.pt").is_file():
        pytest.skip(f"reference vectors not found in {REFERENCE_DIR} (set PIRENDER_REFERENCE_DIR)")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def tiny_checkpoint(reference_dir: Path) -> Path:
    return reference_dir / "tiny_official_format.pt"
