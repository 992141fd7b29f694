"""pirender.engine: the rendering engine every pipeline uses.

>>> engine = RenderEngine(renderer)                       # picks backend, precision and batch
>>> descriptors = engine.encode_motion(windows)           # (N, 73, 27) -> (N, D, 1), all at once
>>> for frames in engine.render_frames(source_image, descriptors):
...     writer.write(frames)                              # (b, H, W, 3) uint8, streamed batch by batch
"""

from __future__ import annotations

from pirender.engine.core import RenderEngine

__all__ = ["RenderEngine"]
