"""MappingNet: a window of motion coefficients -> the latent motion descriptor (paper Sec. 3.1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pirender.models.blocks import lrelu
from pirender.motion.coeffs import window_centres


class MappingNet(nn.Module):
    """Conv1d(k7) then dilated residual Conv1d(k3, d3) layers, average-pooled over time.

    With `source_conditioning` (ours) a zero-initialised Linear maps the change asked of the source
    (the window's centre frame minus the source's own coefficients) into the descriptor as well.
    """

    def __init__(
        self, coeff_nc: int, descriptor_nc: int, layers: int, *, source_conditioning: bool = False
    ) -> None:
        super().__init__()
        self.first = nn.Conv1d(coeff_nc, descriptor_nc, kernel_size=7)
        self.blocks = nn.ModuleList(
            nn.Conv1d(descriptor_nc, descriptor_nc, kernel_size=3, dilation=3) for _ in range(layers)
        )
        self.source = None
        if source_conditioning:
            self.source = nn.Linear(coeff_nc, descriptor_nc)
            nn.init.zeros_(self.source.weight)
            nn.init.zeros_(self.source.bias)

    def forward(
        self, driving_coeffs: torch.Tensor, source_coeffs: torch.Tensor | None = None
    ) -> torch.Tensor:
        """driving_coeffs: (B, 73, L) with L >= 6*layers + 7 (27); source_coeffs: (B, 73), the source
        image's own coefficients (used only with source conditioning) -> descriptor (B, D, 1)."""
        out = self.first(driving_coeffs)  # (B, D, L-6); no activation after `first` (official)
        for block in self.blocks:
            out = block(lrelu(out)) + out[:, :, 3:-3]  # a k3/d3 conv shortens by 6: centre-crop residual
        descriptor = F.adaptive_avg_pool1d(out, 1)
        if self.source is None:
            return descriptor
        change = window_centres(driving_coeffs) - source_coeffs  # (B, 73)
        return descriptor + self.source(change)[:, :, None]
