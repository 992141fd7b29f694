"""Flow field -> sampling grid -> warped image, with the official conventions (spec 1.4, 12.2-3).

The flow is predicted at H/4 in pixels of that grid. The base grid uses the align_corners=True
convention (-1 and 1 at the outer pixel centres) while grid_sample uses align_corners=False; the
official weights were trained with this mismatch, so a zero flow is *not* an identity warp (it shrinks
the image slightly and halves the border pixels). Keep it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def base_grid(
    height: int, width: int, *, dtype: torch.dtype = torch.float32, device: torch.device | None = None
) -> torch.Tensor:
    """(h, w, 2) grid of (x, y) in [-1, 1], align_corners=True convention, computed in `dtype`."""
    xs = (2 * torch.arange(width, dtype=dtype, device=device)) / (width - 1) - 1
    ys = (2 * torch.arange(height, dtype=dtype, device=device)) / (height - 1) - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1)


def flow_to_grid(flow: torch.Tensor) -> torch.Tensor:
    """flow (B, 2, h, w) in pixels (channel 0 = x, 1 = y) -> sampling grid (B, h, w, 2) at flow resolution."""
    _, _, h, w = flow.shape
    grid = base_grid(h, w, dtype=flow.dtype, device=flow.device)
    flow_x = 2 * flow[:, 0] / (w - 1)
    flow_y = 2 * flow[:, 1] / (h - 1)
    return grid + torch.stack([flow_x, flow_y], dim=-1)


def warp(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Warp image (B, C, H, W) with a sampling grid (B, h, w, 2); the grid is resized to (H, W) first.

    Resize: bilinear, align_corners=False. Sampling: bilinear, zeros padding, align_corners=False.
    """
    height, width = image.shape[-2:]
    if grid.shape[1:3] != (height, width):
        grid = F.interpolate(
            grid.permute(0, 3, 1, 2), size=(height, width), mode="bilinear", align_corners=False
        )
        grid = grid.permute(0, 2, 3, 1)
    return F.grid_sample(image, grid.contiguous(), mode="bilinear", padding_mode="zeros", align_corners=False)
