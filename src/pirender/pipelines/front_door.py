"""What the front-door functions share: `pirender.reenact`, `edit`, `speak`, `edit_video` and `dub`
each take their job's arguments plus the same model and runtime keywords, declared once here as
`ModelArgs`; `open_pipeline` loads a pipeline from them and `write_result` writes what it returns.

The job keywords of `reenact`, `edit` and `speak` are declared once, by their pipeline's `__call__`
(and edit's recipe keywords by `build_edit`): names, types, defaults and docs. The function takes
them through `**keywords` (`JobKeywords`), and its signature shows them, so `help(pirender.speak)`
lists every argument:

    REENACT = JobKeywords(ReenactPipeline.__call__)

    @REENACT.shown
    def reenact(source, driving, *, output=None, **keywords):
        job, models = REENACT.split(keywords)
        pipeline = open_pipeline(ReenactPipeline, "reenact", models)
        return write_result(pipeline(source, driving, **job), output, progress=job["progress"])
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
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
F = TypeVar("F", bound=Callable[..., Any])


def check_keywords(function: str, keywords: dict[str, Any], known: set[str]) -> None:
    """A keyword not in `known` is a TypeError, worded as Python's own for `function`."""
    unknown = sorted(set(keywords) - known)
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")


class JobKeywords:
    """The job keywords of a front-door function, declared by the callables it passes them to.

    Each of `calls` (a pipeline's `__call__`, a recipe builder such as `build_edit`) declares its
    keyword-only parameters once, with their types, defaults and docs; the front door takes them
    through `**keywords`. `shown` decorates the function so that its signature (help(), IDEs,
    `inspect`) lists them after its own arguments, then `**models` (ModelArgs); `split` sorts a call's
    keywords into one dict per callable (every keyword: the caller's value or the default) and the
    model keywords, an unknown one being a TypeError as Python's own. `hide`: keywords of the calls
    that the function builds itself (e.g. edit's `expression`, from its `expression_from`).
    """

    def __init__(self, *calls: Callable[..., Any], hide: tuple[str, ...] = ()) -> None:
        self.parameters = [
            {
                name: parameter
                for name, parameter in inspect.signature(call).parameters.items()
                if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name not in hide
            }
            for call in calls
        ]
        self.function = ""

    def shown(self, function: F) -> F:
        own = inspect.signature(function)
        mine = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        taken = [p for group in self.parameters for n, p in group.items() if n not in own.parameters]
        models = inspect.Parameter("models", inspect.Parameter.VAR_KEYWORD, annotation="Unpack[ModelArgs]")
        function.__signature__ = own.replace(parameters=[*mine, *taken, models])  # type: ignore[attr-defined]
        self.function = function.__name__
        return function

    def split(self, keywords: dict[str, Any]) -> tuple[dict[str, Any], ...]:
        """-> (keywords of calls[0], .., keywords of calls[-1], model keywords)."""
        check_keywords(self.function, keywords, set(MODEL_KEYS).union(*self.parameters))
        groups = [{n: keywords.get(n, p.default) for n, p in group.items()} for group in self.parameters]
        return (*groups, {key: value for key, value in keywords.items() if key in MODEL_KEYS})


def runtime_options(function: str, models: dict[str, Any]) -> RuntimeOptions:
    """The RuntimeOptions among a front-door function's `**models`; a key that is not a ModelArgs
    keyword is a TypeError, as Python's own for an unexpected keyword argument."""
    check_keywords(function, models, set(MODEL_KEYS))
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
