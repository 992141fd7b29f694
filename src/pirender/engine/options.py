"""How to run the renderer: device, precision, backend, batch and workers. Never part of a model's
config; `RenderEngine.from_options` builds an engine from them, and every pipeline passes them so."""

from __future__ import annotations

from dataclasses import dataclass

from pirender.errors import InputError

DEVICES = ("cpu", "cuda", "mps")


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run the renderer (never part of a model's config): passed through to RenderEngine."""

    device: str = "cpu"
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    backend: str = "torch"  # torch | onnx
    batch_size: int | None = None  # None: the engine's choice for the device
    workers: int | None = None  # CPU frame workers (RenderEngine); None: 1

    def __post_init__(self) -> None:
        base = self.device.split(":")[0]
        if base not in DEVICES:
            raise InputError(
                f"device must be one of {', '.join(DEVICES)} (optionally cuda:N), got {self.device!r}"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {self.batch_size}")
        if self.workers is not None and self.workers < 1:
            raise InputError(f"workers must be >= 1, got {self.workers}")
        if (self.workers or 1) > 1 and (self.backend != "torch" or self.device.split(":")[0] != "cpu"):
            raise InputError("--workers > 1 is for the torch backend on CPU")

    def check_available(self) -> None:
        """InputError when the requested device is not present on this machine."""
        import torch

        base = self.device.split(":")[0]
        if base == "cuda" and not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA device is available")
        if base == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise InputError("--device mps: Apple MPS is not available")
