"""ONNX export of the renderer and an onnxruntime backend.

The exported graph is the engine's FastRenderer with ONNX-friendly norms (InstanceNormalization and a
GroupNorm(1)-form layer norm), for one image size and a dynamic batch:

    inputs:  source_image (B, 3, H, W) float32 in [-1, 1]
             descriptor (B, D, 1) float32            (or driving_coeffs (B, 73, 27) with --coeffs)
    outputs: image (B, 3, H, W), warped_image (B, 3, H, W), flow (B, 2, H/4, W/4)

Opset 17 (grid_sample needs >= 16). onnx and onnxruntime are the optional `onnx` extra.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pirender.engine.graph import FastRenderer, Techniques
from pirender.errors import InputError
from pirender.models.renderer import PIRenderer
from pirender.motion.coeffs import window_centres

OPSET = 17
OUTPUT_NAMES = ["image", "warped_image", "flow"]
ONNX_TECHNIQUES = Techniques(fused_norms=True, onnx_friendly=True, split_stem=False, subpixel_up=True)


class _ExportWrapper(nn.Module):
    """(source_image, descriptor or driving_coeffs) -> (image, warped_image, flow) for the tracer."""

    def __init__(self, renderer: PIRenderer, *, coeffs_input: bool) -> None:
        super().__init__()
        self.renderer = renderer
        self.fast = FastRenderer(renderer, ONNX_TECHNIQUES)
        self.coeffs_input = coeffs_input

    def forward(self, source_image: torch.Tensor, motion: torch.Tensor) -> tuple[torch.Tensor, ...]:
        descriptor = self.renderer.mapping_net(motion) if self.coeffs_input else motion
        image, warped_image, flow = self.fast(source_image, descriptor)
        return image, warped_image, flow


def require_onnx() -> None:
    """Raise InputError with the install hint when onnx / onnxruntime are missing."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise InputError(
            "the ONNX backend needs onnx and onnxruntime: pip install 'pirender[onnx]'"
        ) from None


def export_onnx(
    renderer: PIRenderer,
    path: str | os.PathLike[str],
    *,
    image_size: int = 256,
    coeffs_input: bool = False,
    opset: int = OPSET,
) -> Path:
    """Write `renderer` as an ONNX graph for `image_size`² images and any batch size; returns the path.

    The file is written in place (callers wanting atomic output pass a temporary path).
    """
    require_onnx()
    config = renderer.config
    if image_size <= 0 or image_size % config.size_multiple:
        raise InputError(
            f"image size must be a positive multiple of {config.size_multiple}, got {image_size}"
        )
    if opset < 16:
        raise InputError(f"opset {opset} has no GridSample; use 16 or later")
    if coeffs_input and config.source_conditioning:
        raise InputError(
            "a source-conditioned renderer exports with descriptor input only (its descriptor also "
            "needs the source's coefficients); export without coefficient input"
        )
    renderer = renderer.float().eval()
    wrapper = _ExportWrapper(renderer, coeffs_input=coeffs_input).eval()
    batch = 2  # traced with 2 so no size-1 dimension is specialised away
    source = torch.zeros(batch, config.image_nc, image_size, image_size)
    motion = (
        torch.zeros(batch, config.coeff_nc, config.window)
        if coeffs_input
        else torch.zeros(batch, config.descriptor_nc, 1)
    )
    motion_name = "driving_coeffs" if coeffs_input else "descriptor"
    names = ["source_image", motion_name, *OUTPUT_NAMES]
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and legacy-exporter chatter; the graph is verified in tests
        torch.onnx.export(
            wrapper,
            (source, motion),
            str(path),
            dynamo=False,  # the torch.export-based exporter needs onnxscript, not a dependency here
            opset_version=opset,
            input_names=names[:2],
            output_names=OUTPUT_NAMES,
            dynamic_axes={name: {0: "batch"} for name in names},
            do_constant_folding=True,
        )
    return Path(path)


class OnnxRenderer:
    """An onnxruntime session over an exported renderer graph (CPU, or CUDA where available)."""

    def __init__(
        self, path: str | os.PathLike[str], *, device: torch.device, threads: int | None = None
    ) -> None:
        require_onnx()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        inputs = [i.name for i in self.session.get_inputs()]
        self.motion_input = inputs[1]
        shape = self.session.get_inputs()[0].shape
        self.image_size = (shape[2], shape[3])
        self.providers = self.session.get_providers()

    def run(
        self, source_image: torch.Tensor, motion: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """source_image (B, 3, H, W), motion (B, D, 1) or (B, 73, 27) -> image, warped_image, flow (CPU)."""
        if tuple(source_image.shape[2:]) != tuple(self.image_size):
            raise InputError(
                f"this ONNX model renders {self.image_size[0]}x{self.image_size[1]} images, "
                f"got {source_image.shape[2]}x{source_image.shape[3]}; export one for this size"
            )
        feeds = {
            "source_image": np.ascontiguousarray(source_image.detach().float().cpu().numpy()),
            self.motion_input: np.ascontiguousarray(motion.detach().float().cpu().numpy()),
        }
        image, warped, flow = self.session.run(OUTPUT_NAMES, feeds)
        return torch.from_numpy(image), torch.from_numpy(warped), torch.from_numpy(flow)


def verify_onnx(renderer: PIRenderer, path: str | os.PathLike[str], *, coeffs_input: bool = False) -> float:
    """Render 2 seeded frames with onnxruntime and torch; return the max-abs difference of the images.

    Raises InputError when it exceeds 1e-3 (the graph would not be the renderer)."""
    from pirender.models.inputs import reference_inputs

    runner = OnnxRenderer(path, device=torch.device("cpu"))
    size = runner.image_size[0]
    source, coeffs = reference_inputs(2, size, seed=11)
    with torch.inference_mode():
        descriptor = renderer.encode_motion(coeffs, window_centres(coeffs))
        expected = renderer.render(source, descriptor).image
    image, _, _ = runner.run(source, coeffs if coeffs_input else descriptor)
    max_abs = (image - expected).abs().max().item()
    if not max_abs <= 1e-3:
        raise InputError(f"{path}: onnxruntime output differs from torch by {max_abs:.2e}")
    return max_abs
