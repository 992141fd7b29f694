"""Deterministic full-size weights for speed and quality benchmarks (the spec's §8.2 weight rule).

Random default init gives activations far from a trained model's; the rule weights (with gains that
keep flows a few pixels and crop values sensible) produce realistic outputs, and the shared
reference vectors (`full_vectors.npz`) were rendered with them, so numerics measured here compare
with the spec's tolerances.
"""

from __future__ import annotations

import math
import os
import zlib
from pathlib import Path

import torch

from pirender.config import RendererConfig
from pirender.models.renderer import PIRenderer
from pirender.weights import official


def _gain(key: str) -> float:
    if key == "mapping_net.first.0.weight":
        return 0.05  # it sees crop values around 128
    if key == "warpping_net.flow_out.2.weight":
        return 3.0  # flows of a few pixels
    if ".mlp_gamma." in key or ".mlp_beta." in key:
        return 0.5
    return 1.0


def rule_tensor(key: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The spec's rule for one official key: seeded by crc32(key), scaled by gain/sqrt(fan)."""
    g = torch.Generator().manual_seed(zlib.crc32(key.encode("utf-8")))
    r = torch.randn(shape, generator=g, dtype=torch.float32)
    if r.numel() == shape[0]:
        return 0.1 * r if key.endswith("bias") else 1 + 0.1 * r
    return r * (_gain(key) / math.sqrt(r.numel() // shape[0]))  # one float32 multiply (spec 8.2)


def official_shapes(config: RendererConfig) -> dict[str, tuple[int, ...]]:
    """Official key -> shape for `config`, from a freshly built model (no reference file needed)."""
    model = PIRenderer(config)
    return {official.to_official_name(k, config): tuple(v.shape) for k, v in model.state_dict().items()}


def rule_renderer(config: RendererConfig | None = None) -> PIRenderer:
    """A PIRenderer in eval mode holding the rule weights (the default config unless given)."""
    config = config or RendererConfig()
    state = {key: rule_tensor(key, shape) for key, shape in official_shapes(config).items()}
    ours, _ = official.convert_state_dict(state, config)
    model = PIRenderer(config)
    model.load_state_dict(ours, strict=True)
    return model.eval()


def reference_vectors_path() -> Path | None:
    """`full_vectors.npz` of the shared reference directory, when present."""
    default = Path(__file__).resolve().parents[3].parent / "shared" / "reference"
    path = Path(os.environ.get("PIRENDER_REFERENCE_DIR", default)) / "full_vectors.npz"
    return path if path.is_file() else None
