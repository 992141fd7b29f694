"""Frames -> motion coefficients.

An extractor maps face crops (VoxCeleb-style, see motion.faces) to (T, 73) coefficients:

* `Deep3DExtractor`: official-compatible; runs a user-supplied Deep3DFaceRecon checkpoint (ResNet-50,
  257 outputs) after its 5-landmark alignment, as the official data were made.
* `SynthHeadExtractor`: the small regressor this project trains on SynthHead renders, shipped inside
  the package, recovering SynthHead's own coefficients.

Heavy modules (torch, mediapipe) are imported only when an extractor is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pirender.motion.extract.deep3d import Deep3DExtractor
    from pirender.motion.extract.synthhead import SynthHeadExtractor

__all__ = ["Deep3DExtractor", "Extractor", "SynthHeadExtractor"]


@runtime_checkable
class Extractor(Protocol):
    """Face crops -> motion."""

    name: str

    def extract(self, frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """(T, S, S, 3) uint8 RGB face crops -> (T, 73) float32 coefficients (crop values for 256 px)."""
        ...


def __getattr__(name: str) -> Any:
    if name == "Deep3DExtractor":
        from pirender.motion.extract.deep3d import Deep3DExtractor

        return Deep3DExtractor
    if name == "SynthHeadExtractor":
        from pirender.motion.extract.synthhead import SynthHeadExtractor

        return SynthHeadExtractor
    raise AttributeError(name)
