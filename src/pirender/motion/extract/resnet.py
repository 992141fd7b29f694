"""ResNet-50 with torchvision's parameter names (no torchvision dependency).

Deep3DFaceRecon's R-Net backbone is torchvision's resnet50 without its fc layer, so checkpoints name
parameters `conv1.weight`, `bn1.running_mean`, `layer1.0.conv1.weight`, `layer1.0.downsample.0.weight`
... This module reproduces exactly that tree: stem (7x7 conv stride 2, BN, ReLU, 3x3 max-pool stride 2),
four stages of Bottleneck blocks [3, 4, 6, 3] (stride on the 3x3 conv, as torchvision >= 0.x "v1.5"),
global average pooling. `widths` and `blocks` make a smaller net of the same kind possible.
"""

from __future__ import annotations

import torch
from torch import nn


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (stride) -> 1x1 expand (x4), plus identity or projected shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, *, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """Bottleneck ResNet trunk; forward returns pooled features (B, C, 1, 1), C = widths[-1] * 4."""

    def __init__(
        self,
        *,
        blocks: tuple[int, ...] = (3, 4, 6, 3),
        widths: tuple[int, ...] = (64, 128, 256, 512),
        stem_channels: int = 64,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem_channels, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = stem_channels
        for index, (count, width) in enumerate(zip(blocks, widths, strict=True)):
            stage = []
            for b in range(count):
                stride = 2 if (b == 0 and index > 0) else 1
                stage.append(Bottleneck(in_channels, width, stride=stride))
                in_channels = width * Bottleneck.expansion
            self.add_module(f"layer{index + 1}", nn.Sequential(*stage))  # torchvision's names
        self.num_stages = len(blocks)
        self.out_channels = in_channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, C, 1, 1) pooled features."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(image))))
        for index in range(self.num_stages):
            x = getattr(self, f"layer{index + 1}")(x)
        return self.avgpool(x)


def resnet50() -> ResNet:
    """torchvision's resnet50 trunk (23.5 M parameters, 2048 output channels)."""
    return ResNet()
