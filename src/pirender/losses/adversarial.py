"""Multi-scale PatchGAN discriminator with feature matching (the pix2pixHD / SPADE recipe).

Not part of the official PIRenderer recipe (off there: `loss.gan_weight` 0); it is what makes the
editing network's output sharp when no ImageNet VGG19 is available (docs/training.md).

    D_k, k = 0..scales-1, sees the image average-pooled k times (3x3, stride 2), so the coarse
    discriminators judge larger patches. Each D_k is pix2pixHD's NLayerDiscriminator: a 4x4 stride-2
    conv + LeakyReLU(0.2), (layers-1) 4x4 stride-2 convs + InstanceNorm + LeakyReLU, one 4x4 stride-1
    conv + InstanceNorm + LeakyReLU, and a 4x4 stride-1 conv to one channel (a patch score map).
    Feature matching: L1 between D's intermediate activations on the output and on the truth,
    averaged over layers and scales (pix2pixHD multiplies it by 10).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

GAN_MODES = ("hinge", "lsgan")


class PatchDiscriminator(nn.Module):
    def __init__(self, in_nc: int = 3, base_nc: int = 64, layers: int = 3, max_nc: int = 512) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_nc, base_nc, 4, 2, 2), nn.LeakyReLU(0.2))]
        nc = base_nc
        for i in range(1, layers + 1):
            out_nc = min(nc * 2, max_nc)
            stride = 2 if i < layers else 1
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(nc, out_nc, 4, stride, 2), nn.InstanceNorm2d(out_nc), nn.LeakyReLU(0.2)
                )
            )
            nc = out_nc
        blocks.append(nn.Conv2d(nc, 1, 4, 1, 2))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (B, 3, H, W) in [-1, 1] -> [activations of each block..., (B, 1, h, w) patch scores]."""
        out = []
        for block in self.blocks:
            x = block(x)
            out.append(x)
        return out


class MultiScaleDiscriminator(nn.Module):
    def __init__(self, scales: int = 2, base_nc: int = 64, layers: int = 3) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(PatchDiscriminator(3, base_nc, layers) for _ in range(scales))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """x: (B, 3, H, W) -> per scale, the PatchDiscriminator outputs (features then scores)."""
        out = []
        for k, d in enumerate(self.discriminators):
            if k > 0:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(d(x))
        return out


def generator_gan_loss(fake: list[list[torch.Tensor]], mode: str) -> torch.Tensor:
    """The generator's adversarial term, averaged over scales (fake: D's outputs on the render)."""
    terms = [(-s[-1]).mean() if mode == "hinge" else (s[-1] - 1).pow(2).mean() for s in fake]
    return torch.stack(terms).mean()


def discriminator_loss(
    real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]], mode: str
) -> torch.Tensor:
    """D's loss on the truth and the (detached) render, averaged over scales."""
    terms = []
    for r, f in zip(real, fake, strict=True):
        if mode == "hinge":
            terms.append(F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean())
        else:
            terms.append((r[-1] - 1).pow(2).mean() + f[-1].pow(2).mean())
    return torch.stack(terms).mean()


def feature_matching_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Mean L1 between D's intermediate activations on render and truth (truth detached)."""
    terms = [
        F.l1_loss(f, r.detach())
        for rs, fs in zip(real, fake, strict=True)
        for r, f in zip(rs[:-1], fs[:-1], strict=True)
    ]
    return torch.stack(terms).mean()
