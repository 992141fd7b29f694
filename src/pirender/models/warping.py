"""WarpingNet: an AdaIN hourglass predicts a flow field from the source image and the descriptor;
the source is warped with it (paper Sec. 3.2)."""

from __future__ import annotations

import torch
from torch import nn

from pirender.config import RendererConfig
from pirender.models.blocks import AdaIN, LayerNorm2d, lrelu
from pirender.models.flow import flow_to_grid, warp


def _width(base_nc: int, level: int, max_nc: int) -> int:
    return min(base_nc * 2**level, max_nc)


class AdaINDownBlock(nn.Module):
    """AdaIN -> LReLU -> Conv 4x4/s2 -> AdaIN -> LReLU -> Conv 3x3: halves the resolution."""

    def __init__(self, in_nc: int, out_nc: int, descriptor_nc: int, hidden_nc: int) -> None:
        super().__init__()
        self.conv_0 = nn.Conv2d(in_nc, out_nc, 4, stride=2, padding=1)
        self.conv_1 = nn.Conv2d(out_nc, out_nc, 3, padding=1)
        self.norm_0 = AdaIN(in_nc, descriptor_nc, hidden_nc)
        self.norm_1 = AdaIN(out_nc, descriptor_nc, hidden_nc)

    def forward(self, x: torch.Tensor, descriptor: torch.Tensor) -> torch.Tensor:
        """x: (B, in, H, W), descriptor: (B, D, 1) -> (B, out, H/2, W/2)."""
        x = self.conv_0(lrelu(self.norm_0(x, descriptor)))
        return self.conv_1(lrelu(self.norm_1(x, descriptor)))


class AdaINUpBlock(nn.Module):
    """Residual 2x upsampling block: a transposed-conv shortcut plus a conv -> transposed-conv main path."""

    def __init__(self, in_nc: int, out_nc: int, descriptor_nc: int, hidden_nc: int) -> None:
        super().__init__()
        up = {"kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}
        self.conv_0 = nn.Conv2d(in_nc, out_nc, 3, padding=1)
        self.conv_1 = nn.ConvTranspose2d(out_nc, out_nc, **up)
        self.conv_s = nn.ConvTranspose2d(in_nc, out_nc, **up)
        self.norm_0 = AdaIN(in_nc, descriptor_nc, hidden_nc)
        self.norm_1 = AdaIN(out_nc, descriptor_nc, hidden_nc)
        self.norm_s = AdaIN(in_nc, descriptor_nc, hidden_nc)

    def forward(self, x: torch.Tensor, descriptor: torch.Tensor) -> torch.Tensor:
        """x: (B, in, H, W), descriptor: (B, D, 1) -> (B, out, 2H, 2W)."""
        shortcut = self.conv_s(lrelu(self.norm_s(x, descriptor)))
        main = self.conv_0(lrelu(self.norm_0(x, descriptor)))
        main = self.conv_1(lrelu(self.norm_1(main, descriptor)))
        return shortcut + main


class AdaINHourglass(nn.Module):
    """U-Net of AdaIN blocks. The encoder has `encoder_layers` down blocks; the decoder climbs
    `decoder_layers` of them back, concatenating [decoder output, encoder skip] at each level, so
    its output is at 1/2**(encoder_layers - decoder_layers) of the input resolution."""

    def __init__(
        self,
        *,
        image_nc: int,
        descriptor_nc: int,
        base_nc: int,
        max_nc: int,
        encoder_layers: int,
        decoder_layers: int,
        hidden_nc: int,
    ) -> None:
        super().__init__()
        self.stem = nn.Conv2d(image_nc, base_nc, 7, padding=3)
        self.down = nn.ModuleList(
            AdaINDownBlock(
                _width(base_nc, i, max_nc), _width(base_nc, i + 1, max_nc), descriptor_nc, hidden_nc
            )
            for i in range(encoder_layers)
        )
        # Up block at level i takes level i+1 features (doubled by the skip concat, except the deepest).
        self.up = nn.ModuleList()
        for i in reversed(range(encoder_layers - decoder_layers, encoder_layers)):
            in_nc = _width(base_nc, i + 1, max_nc) * (1 if i == encoder_layers - 1 else 2)
            self.up.append(AdaINUpBlock(in_nc, _width(base_nc, i, max_nc), descriptor_nc, hidden_nc))
        self.output_nc = 2 * _width(base_nc, encoder_layers - decoder_layers, max_nc)

    def forward(self, x: torch.Tensor, descriptor: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W), descriptor: (B, D, 1) -> (B, output_nc, H/s, W/s), s = 2**(enc - dec)."""
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(skips[-1], descriptor))
        out = skips.pop()
        for block in self.up:
            out = torch.cat([block(out, descriptor), skips.pop()], dim=1)
        return out


class WarpingNet(nn.Module):
    """Source image + descriptor -> flow field (pixels of the H/4 grid) and the warped source."""

    def __init__(self, config: RendererConfig) -> None:
        super().__init__()
        self.hourglass = AdaINHourglass(
            image_nc=config.image_nc,
            descriptor_nc=config.descriptor_nc,
            base_nc=config.warping_base_nc,
            max_nc=config.max_nc,
            encoder_layers=config.warping_encoder_layers,
            decoder_layers=config.warping_decoder_layers,
            hidden_nc=config.adain_hidden_nc,
        )
        self.flow_norm = LayerNorm2d(self.hourglass.output_nc)
        self.flow_conv = nn.Conv2d(self.hourglass.output_nc, 2, 7, padding=3)

    def forward(
        self, source_image: torch.Tensor, descriptor: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """source_image: (B, 3, H, W), descriptor: (B, D, 1) -> flow (B, 2, H/4, W/4), warped (B, 3, H, W)."""
        features = self.hourglass(source_image, descriptor)
        flow = self.flow_conv(lrelu(self.flow_norm(features)))
        return flow, warp(source_image, flow_to_grid(flow))
