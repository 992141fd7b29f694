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


def reference_inputs(batch: int, size: int, *, seed: int = 1234) -> tuple[torch.Tensor, torch.Tensor]:
    """The spec's §8.3 input rule: (source_image (B, 3, S, S) in [-1, 1], driving_coeffs (B, 73, 27))."""
    g = torch.Generator().manual_seed(seed)
    base_exp = 0.4 * torch.randn(batch, 64, 1, generator=g)
    base_pose = 0.15 * torch.randn(batch, 6, 1, generator=g)
    crop = torch.tensor([1.2, 128.0, 128.0])[None, :, None]
    base_crop = crop + torch.tensor([0.02, 2.0, 2.0])[None, :, None] * torch.randn(batch, 3, 1, generator=g)
    base = torch.cat([base_exp, base_pose, base_crop], dim=1)
    scale = torch.cat([torch.full((64,), 0.05), torch.full((6,), 0.01), torch.tensor([0.002, 0.2, 0.2])])
    coeffs = base + scale[None, :, None] * torch.randn(batch, 73, 27, generator=g)
    low = 2 * torch.rand(batch, 3, 8, 8, generator=g) - 1
    mid = 2 * torch.rand(batch, 3, size // 4, size // 4, generator=g) - 1

    def up(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)

    image = (0.9 * up(low) + 0.1 * up(mid)).clamp(-1, 1)
    return image, coeffs


def reference_vectors_path() -> Path | None:
    """`full_vectors.npz` of the shared reference directory, when present."""
    default = Path(__file__).resolve().parents[3].parent / "shared" / "reference"
    path = Path(os.environ.get("PIRENDER_REFERENCE_DIR", default)) / "full_vectors.npz"
    return path if path.is_file() else None
