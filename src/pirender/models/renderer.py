"""PIRenderer = MappingNet -> WarpingNet -> EditingNet (paper Fig. 2)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pirender.config import RendererConfig
from pirender.models.editing import AdaINResBlock, EditingNet
from pirender.models.mapping import MappingNet
from pirender.models.warping import WarpingNet


@dataclass
class RenderOutput:
    """What the renderer returns (the official keys flow_field / warp_image / fake_image)."""

    flow: torch.Tensor  # (B, 2, H/4, W/4) pixels of the flow grid; channel 0 = x, 1 = y
    warped_image: torch.Tensor  # (B, 3, H, W) in [-1, 1]
    image: torch.Tensor | None  # (B, 3, H, W) in [-1, 1]; None in the warp-only stage


class PIRenderer(nn.Module):
    """The PIRenderer generator. Build it from a RendererConfig; load weights with pirender.load_renderer."""

    def __init__(self, config: RendererConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or RendererConfig()
        self.mapping_net = MappingNet(config.coeff_nc, config.descriptor_nc, config.mapping_layers)
        self.warping_net = WarpingNet(config)
        self.editing_net = EditingNet(
            image_nc=config.image_nc,
            descriptor_nc=config.descriptor_nc,
            base_nc=config.editing_base_nc,
            max_nc=config.max_nc,
            layers=config.editing_layers,
            res_blocks=config.editing_res_blocks,
            hidden_nc=config.adain_hidden_nc,
            fixed_resblock=config.resblock == "fixed",
            residual=config.editing_output == "residual",
        )

    def encode_motion(self, driving_coeffs: torch.Tensor) -> torch.Tensor:
        """driving_coeffs: (B, 73, 27) -> descriptor (B, D, 1). Precompute it once per motion frame."""
        _check_coeffs(driving_coeffs, self.config)
        return self.mapping_net(driving_coeffs)

    def render(
        self, source_image: torch.Tensor, descriptor: torch.Tensor, *, warp_only: bool = False
    ) -> RenderOutput:
        """Render from a precomputed descriptor (B, D, 1); see forward for the image conventions."""
        _check_image(source_image, self.config)
        flow, warped_image = self.warping_net(source_image, descriptor)
        image = None if warp_only else self.editing_net(source_image, warped_image, descriptor)
        return RenderOutput(flow=flow, warped_image=warped_image, image=image)

    def forward(
        self, source_image: torch.Tensor, driving_coeffs: torch.Tensor, *, warp_only: bool = False
    ) -> RenderOutput:
        """Render source_image with the motion in driving_coeffs.

        Args:
            source_image: (B, 3, H, W) float RGB in [-1, 1]; H, W multiples of config.size_multiple (32).
            driving_coeffs: (B, 73, 27) float: 27 frames (t-13 .. t+13) of
                [exp 64 | angle 3 | trans 3 | crop 3]; layout in pirender.motion.coeffs.
            warp_only: skip the editing network (the official 'warp' training stage).
        Returns:
            RenderOutput: flow (B, 2, H/4, W/4), warped_image (B, 3, H, W),
            image (B, 3, H, W) or None when warp_only.
        """
        return self.render(source_image, self.encode_motion(driving_coeffs), warp_only=warp_only)

    def set_compute_dead_branch(self, enabled: bool) -> None:
        """Benchmarks only: also compute the editing res-blocks' discarded conv1/norm1 branch, as the
        official code does. The output does not change."""
        for module in self.modules():
            if isinstance(module, AdaINResBlock):
                module.compute_dead_branch = enabled

    def save_pretrained(self, directory: str | Path, *, provenance: dict | None = None) -> Path:
        """Write `config.json` + `model.safetensors` (weights only); load back with pirender.load_renderer."""
        from pirender.weights.format import save_model_dir

        return save_model_dir(self, directory, provenance=provenance)

    def num_parameters(self, *, live_only: bool = False) -> int:
        """Parameter count; live_only excludes the never-computed res-block branch of the official design."""
        total = sum(p.numel() for p in self.parameters())
        if live_only and self.config.resblock == "official":
            total -= sum(
                p.numel()
                for m in self.modules()
                if isinstance(m, AdaINResBlock)
                for p in [*m.conv1.parameters(), *m.norm1.parameters()]
            )
        return total


def _check_coeffs(driving_coeffs: torch.Tensor, config: RendererConfig) -> None:
    if driving_coeffs.ndim != 3 or driving_coeffs.shape[1] != config.coeff_nc:
        raise ValueError(
            f"driving_coeffs must be (B, {config.coeff_nc}, {config.window}), got {tuple(driving_coeffs.shape)}"
        )
    if driving_coeffs.shape[2] < 6 * config.mapping_layers + 7:
        raise ValueError(f"driving_coeffs window {driving_coeffs.shape[2]} is too short; use {config.window}")


def _check_image(source_image: torch.Tensor, config: RendererConfig) -> None:
    m = config.size_multiple
    if source_image.ndim != 4 or source_image.shape[1] != config.image_nc:
        raise ValueError(
            f"source_image must be (B, {config.image_nc}, H, W), got {tuple(source_image.shape)}"
        )
    if source_image.shape[2] % m or source_image.shape[3] % m:
        raise ValueError(
            f"image height and width must be multiples of {m}, got {tuple(source_image.shape[2:])}"
        )
