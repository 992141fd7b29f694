"""Which models a pipeline runs, and how they are loaded: renderer -> RenderEngine, extractor, audio flow.

Defaults (used when no path is given):

* renderer: the SynthHead-trained renderer shipped in `pirender/assets/renderer_synthhead_128/`. It
  animates SynthHead heads and is the renderer the tests and demos can rely on; real photographs need
  the official weights (`pirender convert-official` or the `.pt` file itself).
* coefficient extractor: the shipped SynthHead regressor (`SynthHeadExtractor.load()`), in the same
  coefficient space as the default renderer. For real faces pass `extractor="deep3d"` with a
  Deep3DFaceRecon checkpoint and BFM folder (the official pipeline).
* audio-to-motion model: `pirender/assets/audio_flow/`.

Loaded models are cached per process (keyed by path and runtime options), so a notebook or the UI
calling `pirender.reenact(...)` repeatedly pays the load once.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pirender.engine.options import RuntimeOptions
from pirender.errors import InputError

if TYPE_CHECKING:
    from pirender.engine import RenderEngine
    from pirender.motion.extract import Extractor

ASSET_DIR = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_RENDERER = ASSET_DIR / "renderer_synthhead_128"
DEFAULT_MOTION_MODEL = ASSET_DIR / "audio_flow"
EXTRACTORS = ("synthhead", "deep3d")


def resolve_renderer_path(path: str | os.PathLike[str] | None) -> Path:
    """The renderer file/directory to load; the shipped SynthHead renderer when `path` is None."""
    if path is None:
        if not (DEFAULT_RENDERER / "model.safetensors").is_file():
            raise InputError(
                f"no --renderer given and the bundled SynthHead renderer is not installed ({DEFAULT_RENDERER}); "
                "pass a model directory or an official checkpoint"
            )
        return DEFAULT_RENDERER
    path = Path(path)
    if not path.exists():
        raise InputError(f"renderer not found: {path}")
    return path


def load_engine(renderer: Any, options: RuntimeOptions | None = None) -> RenderEngine:
    """A RenderEngine from a path (or None = default), a PIRenderer or an engine. Its `image_size` is
    the side the source crop is resized to: the one the model was trained at (PIRenderer.image_size,
    recorded in its folder), however it was given."""
    from pirender.engine import RenderEngine
    from pirender.models.renderer import PIRenderer

    options = options or RuntimeOptions()
    if isinstance(renderer, RenderEngine):
        return renderer
    if isinstance(renderer, PIRenderer):
        return RenderEngine.from_options(renderer, options)
    path = resolve_renderer_path(renderer)
    options.check_available()  # before the model is read
    return _cached_engine(str(path.resolve()), options)


@functools.lru_cache(maxsize=4)
def _cached_engine(path: str, options: RuntimeOptions) -> RenderEngine:
    from pirender.engine import RenderEngine
    from pirender.models.loading import load_renderer

    return RenderEngine.from_options(load_renderer(path, device=options.device), options)


@dataclass(frozen=True)
class ExtractorSpec:
    """Which coefficient extractor estimates the source's (and a driving video's) coefficients."""

    kind: str = "synthhead"  # synthhead | deep3d
    checkpoint: str | None = None  # synthhead: optional weights; deep3d: required epoch_20.pth
    bfm_dir: str | None = None  # deep3d only: a BFM folder to read the standard points from (shipped)

    def __post_init__(self) -> None:
        if self.kind not in EXTRACTORS:
            raise InputError(f"extractor must be one of {', '.join(EXTRACTORS)}, got {self.kind!r}")
        for p in (self.checkpoint, self.bfm_dir):
            if p is not None and not Path(p).exists():
                raise InputError(f"extractor file not found: {p}")


EXTRACTOR_RULE = (
    "deep3d when --extractor-checkpoint is a .pth/.pt file or --renderer is the official model, "
    "else the bundled synthhead regressor"
)


def extractor_kind(kind: str | None, checkpoint: object = None, renderer: object = None) -> str:
    """The one default rule of every command and of `extractor=None`: `kind` when named; else deep3d
    when its checkpoint (a .pth/.pt file) is given or the renderer is the official model (trained on
    Deep3DFaceRecon coefficients); else synthhead."""
    if kind is not None:
        return kind
    if checkpoint is not None and Path(str(checkpoint)).suffix.lower() in (".pth", ".pt"):
        return "deep3d"
    if renderer is not None:
        from pirender.weights.format import is_official

        if is_official(Path(str(renderer))):
            return "deep3d"
    return "synthhead"


def default_extractor(renderer: str | os.PathLike[str] | None) -> ExtractorSpec | None:
    """The extractor a renderer's coefficients come from when none is named: deep3d for the official
    weights (their checkpoint must then be given), None (the bundled SynthHead regressor) otherwise."""
    return ExtractorSpec(kind="deep3d") if extractor_kind(None, renderer=renderer) == "deep3d" else None


def load_extractor(spec: ExtractorSpec | None, device: str = "cpu") -> Extractor:
    """Load (cached) the extractor named by `spec` (default: the shipped SynthHead regressor)."""
    return _cached_extractor(spec or ExtractorSpec(), device)


@functools.lru_cache(maxsize=2)
def _cached_extractor(spec: ExtractorSpec, device: str) -> Extractor:
    from pirender.motion.extract import Deep3DExtractor, SynthHeadExtractor

    if spec.kind == "deep3d":
        if spec.checkpoint is None:  # checked here, when coefficients are needed, not when the spec is made
            raise InputError(
                "the deep3d extractor (the default for the official renderer) needs --extractor-checkpoint "
                "(Deep3DFaceRecon epoch_20.pth, docs/motion.md); --extractor synthhead uses the bundled "
                "regressor instead"
            )
        return Deep3DExtractor.from_checkpoint(spec.checkpoint, spec.bfm_dir, device=device)
    return SynthHeadExtractor.load(spec.checkpoint, device=device)


def resolve_motion_model_path(path: str | os.PathLike[str] | None) -> Path:
    """The audio-to-motion model directory; the shipped one when `path` is None."""
    if path is None:
        if not DEFAULT_MOTION_MODEL.exists():
            raise InputError(
                f"no --motion-model given and the bundled audio flow is not installed ({DEFAULT_MOTION_MODEL})"
            )
        return DEFAULT_MOTION_MODEL
    path = Path(path)
    if not path.exists():
        raise InputError(f"motion model not found: {path}")
    return path


@functools.lru_cache(maxsize=2)
def load_motion_model(path: str) -> Any:
    """A trained MotionFlow from its directory (cached)."""
    from pirender.audio.model import MotionFlow

    return MotionFlow.load(path)


def open_motion_model(motion_model: Any) -> Any:
    """A pipeline's audio model argument: a directory path (None = the shipped one), loaded and cached,
    or an already loaded MotionFlow, returned as it is."""
    if motion_model is None or isinstance(motion_model, str | os.PathLike):
        return load_motion_model(str(resolve_motion_model_path(motion_model).resolve()))
    return motion_model


SYNTHETIC_NOTICE = (
    "pirender: note: the bundled renderer was trained on synthetic SynthHead heads only, so a real face "
    "comes back blurred; for real photos get the official PIRender weights "
    "(epoch_00190_iteration_000400000_checkpoint.pt in face.zip, linked from the official PIRender README; "
    "CC BY-NC) and pass --renderer FILE (or renderer= in Python; `pirender convert` makes a model folder)"
)
_noticed: list[bool] = []


def is_bundled_renderer(renderer: Any) -> bool:
    """True when `renderer` (a path or None) resolves to the shipped SynthHead-only renderer."""
    if renderer is not None and not isinstance(renderer, (str, os.PathLike)):
        return False
    try:
        return resolve_renderer_path(renderer).resolve() == DEFAULT_RENDERER.resolve()
    except InputError:
        return False


def notice_synthetic_renderer(stream: Any = None) -> bool:
    """Say SYNTHETIC_NOTICE on stderr, once per process; returns whether it was said now."""
    import sys

    if _noticed:
        return False
    _noticed.append(True)
    print(SYNTHETIC_NOTICE, file=stream or sys.stderr, flush=True)
    return True
