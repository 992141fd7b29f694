"""pirender: PIRenderer (Ren et al., ICCV 2021), faithful to the official weights.

>>> import pirender
>>> renderer = pirender.load_renderer("epoch_00190_iteration_000400000_checkpoint.pt")
>>> out = renderer(source_image, driving_coeffs)   # (B,3,H,W) in [-1,1], (B,73,27)
>>> out.image, out.warped_image, out.flow
"""

from __future__ import annotations

import importlib
from typing import Any

from pirender.config import RendererConfig
from pirender.errors import CheckpointError, InputError, PirenderError
from pirender.models.loading import load_renderer
from pirender.models.renderer import PIRenderer, RenderOutput
from pirender.version import __version__

# Pipelines are imported on first use: `import pirender` stays light.
_LAZY = {
    "reenact": "pirender.pipelines.reenact",
    "edit": "pirender.pipelines.edit",
    "speak": "pirender.pipelines.speak",
    "edit_video": "pirender.pipelines.dub",
    "dub": "pirender.pipelines.dub",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pirender' has no attribute {name!r}")


__all__ = [
    "CheckpointError",
    "InputError",
    "PIRenderer",
    "PirenderError",
    "RenderOutput",
    "RendererConfig",
    "load_renderer",
    "__version__",
]
