"""What every pipeline holds: a renderer (as a RenderEngine), the image side it renders and the
coefficient extractor, with the one `from_pretrained` that loads them (reenact and edit subclass it;
speak, which adds an audio model, loads its renderer through it)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

from pirender.engine.options import RuntimeOptions
from pirender.pipelines.models import (
    ExtractorSpec,
    default_extractor,
    is_bundled_renderer,
    load_engine,
    notice_synthetic_renderer,
)

P = TypeVar("P", bound="RendererPipeline")


@dataclass
class RendererPipeline:
    """A loaded renderer and how a job's inputs are read. Subclasses add `__call__` (one job per call).

    Attributes:
        engine: the RenderEngine every frame goes through.
        image_size: side S of the renderer's input and output crops.
        extractor: estimates coefficients of the source (and of driving videos).
        device: where the extractor runs.
    """

    engine: Any  # pirender.engine.RenderEngine
    image_size: int = 256
    extractor: ExtractorSpec | None = None
    device: str = "cpu"
    synthetic_only: bool = False  # the bundled SynthHead-only renderer (see `note_source`)

    @classmethod
    def from_pretrained(
        cls: type[P],
        renderer: Any = None,
        *,
        options: RuntimeOptions | None = None,
        extractor: ExtractorSpec | None = None,
        size: int | None = None,
    ) -> P:
        """Load the renderer (a path, None = the shipped SynthHead renderer, a PIRenderer or a RenderEngine)."""
        options = options or RuntimeOptions()
        if extractor is None and isinstance(renderer, (str, os.PathLike)):
            extractor = default_extractor(renderer)
        engine = load_engine(renderer, options)
        size = engine.config.check_image_size(size or engine.image_size)
        return cls(engine, size, extractor, options.device, synthetic_only=is_bundled_renderer(renderer))

    def note_source(self, prepared: Any) -> None:
        """A real photo or video frame given to the bundled SynthHead-only renderer: say once, in one
        line, why it comes back blurred and what to use. Real means its face had to be found and
        cropped, or it is larger than the renderer's side (SynthHead material for this renderer is made
        at its 128 px; a real photo that is already a square crop of that size goes unremarked)."""
        if not self.synthetic_only:
            return
        if prepared.transform is not None or max(prepared.image.shape[:2]) > self.image_size:
            notice_synthetic_renderer()
