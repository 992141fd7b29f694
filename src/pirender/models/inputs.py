"""Seeded example inputs of the renderer: the spec's §8.3 rule, from which the reference vectors were
made (bench/reference_weights.py, tests/renderer) and which the ONNX export is verified on."""

from __future__ import annotations

import torch


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
