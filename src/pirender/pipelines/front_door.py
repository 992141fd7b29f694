"""What the front-door functions share: `pirender.reenact`, `edit`, `speak`, `edit_video` and `dub`
each take their job's arguments (those of their pipeline's `__call__`) plus the same model and runtime
keywords, declared once here as `ModelArgs`; `open_pipeline` loads a pipeline from them and
`write_result` writes what it returns.

    pipeline = open_pipeline(ReenactPipeline, "reenact", models)   # models: the caller's **models
    return write_result(pipeline(source, driving, ...), output, progress=progress)
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import numpy as np

from pirender.engine.options import RuntimeOptions
from pirender.pipelines.models import ExtractorSpec
from pirender.pipelines.output import RenderedVideo


class ModelArgs(TypedDict, total=False):
    """The model and runtime keywords of every front-door function.

    renderer: a model directory or checkpoint path, None (the shipped SynthHead renderer), a
        PIRenderer or a RenderEngine.
    extractor: how the source's (and driving videos') coefficients are estimated; None = the
        renderer's default.
    size: the renderer's image side; None = the model's own.
    device, precision, backend, batch_size, workers: how it runs (`pirender.engine.RuntimeOptions`).
    """

    renderer: Any
    extractor: ExtractorSpec | None
    size: int | None
    device: str
    precision: str
    backend: str
    batch_size: int | None
    workers: int | None


RUNTIME_KEYS: tuple[str, ...] = tuple(f.name for f in fields(RuntimeOptions))
MODEL_KEYS: tuple[str, ...] = tuple(ModelArgs.__annotations__)

P = TypeVar("P")


def runtime_options(function: str, models: dict[str, Any]) -> RuntimeOptions:
    """The RuntimeOptions among a front-door function's `**models`; a key that is not a ModelArgs
    keyword is a TypeError, as Python's own for an unexpected keyword argument."""
    unknown = sorted(set(models) - set(MODEL_KEYS))
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")
    return RuntimeOptions(**{key: models[key] for key in RUNTIME_KEYS if key in models})


def open_pipeline(cls: type[P], function: str, models: dict[str, Any], **extra: Any) -> P:
    """`cls.from_pretrained` from a front-door function's `**models` (`extra`: the pipeline's own
    loading keywords, e.g. SpeakPipeline's `motion_model`)."""
    options = runtime_options(function, models)
    return cls.from_pretrained(  # type: ignore[attr-defined]
        models.get("renderer"), options=options, extractor=models.get("extractor"), size=models.get("size"),
        **extra,
    )  # fmt: skip


def write_result(result: Any, output: str | os.PathLike[str] | None, *, progress: bool = False) -> Any:
    """A pipeline's result as the front-door functions return it.

    Without `output`: the result itself (an image array, a lazy RenderedVideo or a list of them).
    With it: the written path: a video streamed to it, an image saved, a list of K videos to
    out_0.mp4 .. out_{K-1}.mp4 (just `output` when K = 1); every file written atomically.
    """
    if output is None:
        return result
    if isinstance(result, list):
        paths = separate_paths(output, len(result))
        return [video.save(path, progress=progress) for video, path in zip(result, paths, strict=True)]
    if isinstance(result, RenderedVideo):
        return result.save(output, progress=progress)
    if isinstance(result, np.ndarray):
        from pirender.media.image import save_image

        save_image(output, result)
        return Path(output)
    raise TypeError(f"cannot write a {type(result).__name__}")


def separate_paths(output: str | os.PathLike[str], count: int) -> list[Path]:
    """out.mp4 -> out_0.mp4 .. out_{K-1}.mp4 (just out.mp4 when K = 1)."""
    path = Path(output)
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}_{k}{path.suffix}") for k in range(count)]
