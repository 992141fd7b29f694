"""EditingNet: refines the warped image into the final portrait (paper Sec. 3.3)."""

from __future__ import annotations

import torch
from torch import nn

from pirender.models.blocks import AdaIN, ConvNormAct, lrelu


def _width(base_nc: int, level: int, max_nc: int) -> int:
    return min(base_nc * 2**level, max_nc)


class AdaINResBlock(nn.Module):
    """The editing decoder's residual block.

    official: x + AdaIN_2(conv2(x)). The official code computes lrelu(AdaIN_1(conv1(x))) first and
    then overwrites it, so conv1/norm1 never reach the output (issue #14). We keep their parameters so
    official checkpoints load, and skip the dead compute (bit-identical, ~10% faster).
    fixed: x + AdaIN_2(conv2(lrelu(AdaIN_1(conv1(x))))), the evident intent, for new training runs.
    """

    def __init__(self, channels: int, descriptor_nc: int, hidden_nc: int, *, fixed: bool = False) -> None:
        super().__init__()
        self.fixed = fixed
        self.compute_dead_branch = False  # benchmarks only: run the discarded branch like the official code
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm1 = AdaIN(channels, descriptor_nc, hidden_nc)
        self.norm2 = AdaIN(channels, descriptor_nc, hidden_nc)
        if not fixed:  # dead parameters: no gradient, no optimizer state (as in official training)
            for p in [*self.conv1.parameters(), *self.norm1.parameters()]:
                p.requires_grad_(False)

    def forward(self, x: torch.Tensor, descriptor: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W), descriptor: (B, D, 1) -> (B, C, H, W)."""
        if self.fixed:
            return x + self.norm2(self.conv2(lrelu(self.norm1(self.conv1(x), descriptor))), descriptor)
        if self.compute_dead_branch:
            lrelu(self.norm1(self.conv1(x), descriptor))
        return x + self.norm2(self.conv2(x), descriptor)


class EditingLevel(nn.Module):
    """One decoder level: res-blocks at `in_nc`, 2x nearest upsample + conv to `out_nc`, plus a skip."""

    def __init__(
        self, in_nc: int, out_nc: int, descriptor_nc: int, hidden_nc: int, res_blocks: int, *, fixed: bool
    ) -> None:
        super().__init__()
        self.res = nn.ModuleList(
            AdaINResBlock(in_nc, descriptor_nc, hidden_nc, fixed=fixed) for _ in range(res_blocks)
        )
        self.up = ConvNormAct(in_nc, out_nc, upsample=True)
        self.skip = ConvNormAct(out_nc, out_nc)

    def forward(self, x: torch.Tensor, skip: torch.Tensor, descriptor: torch.Tensor) -> torch.Tensor:
        """x: (B, in, H, W), skip: (B, out, 2H, 2W) -> (B, out, 2H, 2W)."""
        for block in self.res:
            x = block(x, descriptor)
        return self.skip(skip) + self.up(x)


class EditingNet(nn.Module):
    """[source, warped] (6 channels) -> encoder pyramid -> AdaIN decoder -> tanh image."""

    def __init__(
        self,
        *,
        image_nc: int,
        descriptor_nc: int,
        base_nc: int,
        max_nc: int,
        layers: int,
        res_blocks: int,
        hidden_nc: int,
        fixed_resblock: bool = False,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.residual = residual
        self.stem = ConvNormAct(2 * image_nc, base_nc, 7)
        self.down = nn.ModuleList(
            ConvNormAct(_width(base_nc, i, max_nc), _width(base_nc, i + 1, max_nc), downsample=True)
            for i in range(layers)
        )
        # Decoder levels run deepest first (level layers-1 ... 0).
        self.levels = nn.ModuleList(
            EditingLevel(
                _width(base_nc, i + 1, max_nc),
                _width(base_nc, i, max_nc),
                descriptor_nc,
                hidden_nc,
                res_blocks,
                fixed=fixed_resblock,
            )
            for i in reversed(range(layers))
        )
        self.final = nn.Conv2d(base_nc, image_nc, 7, padding=3)

    def forward(
        self, source_image: torch.Tensor, warped_image: torch.Tensor, descriptor: torch.Tensor
    ) -> torch.Tensor:
        """source_image, warped_image: (B, 3, H, W), descriptor: (B, D, 1) -> image (B, 3, H, W) in [-1, 1]."""
        skips = [self.stem(torch.cat([source_image, warped_image], dim=1))]
        for block in self.down:
            skips.append(block(skips[-1]))
        out = skips.pop()
        for level in self.levels:
            out = level(out, skips.pop(), descriptor)
        logits = self.final(out)
        if self.residual:
            logits = logits + residual_base(warped_image)
        return torch.tanh(logits)


RESIDUAL_CLAMP = 0.999  # atanh(0.999) = 3.8: saturated pixels stay finite


def residual_base(warped_image: torch.Tensor) -> torch.Tensor:
    """atanh of the warped image (B, 3, H, W), the base the residual editing output adds to."""
    return torch.atanh(warped_image.float().clamp(-RESIDUAL_CLAMP, RESIDUAL_CLAMP))
