"""PIRenderer = MappingNet -> WarpingNet -> EditingNet (paper Fig. 2)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pirender.config import OFFICIAL_IMAGE_SIZE, RendererConfig
from pirender.errors import InputError
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

    def __init__(
        self, config: RendererConfig | None = None, *, image_size: int = OFFICIAL_IMAGE_SIZE
    ) -> None:
        super().__init__()
        self.config = config = config or RendererConfig()
        # The side S of the (S, S) crops it was trained on: pipelines resize sources to it. Not part of
        # the architecture (any multiple of config.size_multiple runs); saved in the model folder.
        self.image_size = image_size
        self.mapping_net = MappingNet(
            config.coeff_nc, config.descriptor_nc, config.mapping_layers,
            source_conditioning=config.source_conditioning,
        )  # fmt: skip
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

    def encode_motion(
        self, driving_coeffs: torch.Tensor, source_coeffs: torch.Tensor | None = None
    ) -> torch.Tensor:
        """driving_coeffs: (B, 73, 27), source_coeffs: (B, 73) or None -> descriptor (B, D, 1).

        Precompute it once per motion frame. source_coeffs (the source image's own coefficients) is
        required by a source-conditioned model (config.source_conditioning) and ignored by the others.
        """
        _check_coeffs(driving_coeffs, self.config)
        if not self.config.source_conditioning:
            return self.mapping_net(driving_coeffs)
        if source_coeffs is None:
            raise InputError(
                "this renderer is source-conditioned: pass source_coeffs (B, 73), the source image's own "
                "coefficients"
            )
        if source_coeffs.shape != (driving_coeffs.shape[0], self.config.coeff_nc):
            raise InputError(
                f"source_coeffs must be ({driving_coeffs.shape[0]}, {self.config.coeff_nc}), "
                f"got {tuple(source_coeffs.shape)}"
            )
        return self.mapping_net(driving_coeffs, source_coeffs.to(driving_coeffs))

    def render(
        self, source_image: torch.Tensor, descriptor: torch.Tensor, *, warp_only: bool = False
    ) -> RenderOutput:
        """Render from a precomputed descriptor (B, D, 1); see forward for the image conventions."""
        _check_image(source_image, self.config)
        flow, warped_image = self.warping_net(source_image, descriptor)
        image = None if warp_only else self.editing_net(source_image, warped_image, descriptor)
        return RenderOutput(flow=flow, warped_image=warped_image, image=image)

    def forward(
        self,
        source_image: torch.Tensor,
        driving_coeffs: torch.Tensor,
        *,
        source_coeffs: torch.Tensor | None = None,
        warp_only: bool = False,
    ) -> RenderOutput:
        """Render source_image with the motion in driving_coeffs.

        Args:
            source_image: (B, 3, H, W) float RGB in [-1, 1]; H, W multiples of config.size_multiple (32).
            driving_coeffs: (B, 73, 27) float: 27 frames (t-13 .. t+13) of
                [exp 64 | angle 3 | trans 3 | crop 3]; layout in pirender.motion.coeffs.
            source_coeffs: (B, 73) the source image's own coefficients; required when
                config.source_conditioning, ignored otherwise.
            warp_only: skip the editing network (the official 'warp' training stage).
        Returns:
            RenderOutput: flow (B, 2, H/4, W/4), warped_image (B, 3, H, W),
            image (B, 3, H, W) or None when warp_only.
        """
        descriptor = self.encode_motion(driving_coeffs, source_coeffs)
        return self.render(source_image, descriptor, warp_only=warp_only)

    def with_source_conditioning(self) -> PIRenderer:
        """A source-conditioned copy (config.source_conditioning) computing exactly what this model
        computes: the same weights, the new source layer zero. Fine-tuning it then learns to use the
        source's own coefficients."""
        if self.config.source_conditioning:
            raise InputError("this renderer is already source-conditioned")
        model = PIRenderer(
            dataclasses.replace(self.config, source_conditioning=True), image_size=self.image_size
        )
        missing, unexpected = model.load_state_dict(self.state_dict(), strict=False)
        assert not unexpected and set(missing) == {"mapping_net.source.weight", "mapping_net.source.bias"}
        return model.to(next(self.parameters()).device)

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
        raise InputError(
            f"driving_coeffs must be (B, {config.coeff_nc}, {config.window}), got {tuple(driving_coeffs.shape)}"
        )
    if driving_coeffs.shape[2] < 6 * config.mapping_layers + 7:
        raise InputError(f"driving_coeffs window {driving_coeffs.shape[2]} is too short; use {config.window}")


def _check_image(source_image: torch.Tensor, config: RendererConfig) -> None:
    m = config.size_multiple
    if source_image.ndim != 4 or source_image.shape[1] != config.image_nc:
        raise InputError(
            f"source_image must be (B, {config.image_nc}, H, W), got {tuple(source_image.shape)}"
        )
    if source_image.shape[2] % m or source_image.shape[3] % m:
        raise InputError(
            f"image height and width must be multiples of {m}, got {tuple(source_image.shape[2:])}"
        )
