"""Building blocks shared by the warping and editing networks.

Each block reproduces the official numerics exactly (see the spec, sections 1.2 and 14): the
expression forms below are the bit-exact ones, algebraically equal rewrites drift by ~1e-5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.1


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, LEAKY_SLOPE)


class LayerNorm2d(nn.Module):
    """Layer norm over (C, H, W) jointly per sample, with a per-channel affine of shape (C, 1, 1).

    Not nn.LayerNorm(C) (which normalises over channels only): the official weights need the joint form.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, C, H, W)."""
        shape = x.shape[1:]
        return F.layer_norm(x, shape, self.weight.expand(shape), self.bias.expand(shape), self.eps)


class AdaIN(nn.Module):
    """Adaptive instance norm driven by the motion descriptor: IN(x) * (1 + gamma(z)) + beta(z)."""

    def __init__(self, channels: int, descriptor_nc: int, hidden_nc: int = 128) -> None:
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Linear(descriptor_nc, hidden_nc), nn.ReLU())
        self.mlp_gamma = nn.Linear(hidden_nc, channels)
        self.mlp_beta = nn.Linear(hidden_nc, channels)

    def modulation(self, descriptor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """descriptor (B, D, 1) -> gamma, beta, each (B, C, 1, 1)."""
        hidden = self.mlp_shared(descriptor.flatten(1))
        gamma = self.mlp_gamma(hidden)
        beta = self.mlp_beta(hidden)
        return gamma[:, :, None, None], beta[:, :, None, None]

    def forward(self, x: torch.Tensor, descriptor: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W), descriptor: (B, D, 1) -> (B, C, H, W)."""
        gamma, beta = self.modulation(descriptor)
        return F.instance_norm(x, eps=1e-5) * (1 + gamma) + beta


class ConvNormAct(nn.Module):
    """Conv2d -> LayerNorm2d -> LeakyReLU(0.1), optionally with a 2x nearest upsample before or a 2x2
    average pool after (the editing network's encoder, decoder and skip blocks)."""

    def __init__(
        self,
        in_nc: int,
        out_nc: int,
        kernel_size: int = 3,
        *,
        upsample: bool = False,
        downsample: bool = False,
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.downsample = downsample
        self.conv = nn.Conv2d(in_nc, out_nc, kernel_size, padding=kernel_size // 2)
        self.norm = LayerNorm2d(out_nc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, in, H, W) -> (B, out, H', W') with H' = 2H (upsample), H/2 (downsample) or H."""
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = lrelu(self.norm(self.conv(x)))
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        return x
