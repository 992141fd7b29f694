"""VGG19 feature extractor for the perceptual loss, with torchvision's parameter names.

Weights come only from a local file in torchvision's state-dict layout (`features.{i}.weight`,
`features.{i}.bias`, `classifier.*`), e.g. the `vgg19-dcbb9e9d.pth` that torchvision keeps in
`$TORCH_HOME/hub/checkpoints/`. Nothing is ever downloaded. Without such a file the caller may build
the same network with fixed random weights (`random_vgg19`), a measured fallback (docs/training.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from pirender.errors import CheckpointError
from pirender.weights.torch_file import read_torch_file

# torchvision's configuration "E": conv widths, "M" = 2x2 max-pool.
VGG19_LAYOUT: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip
# The layers of the official perceptual loss and their index in `features` (torchvision numbering).
LAYER_INDEX = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu5_1": 29}
DEFAULT_LAYERS = tuple(LAYER_INDEX)
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _features(upto: int) -> nn.Sequential:
    """torchvision's `vgg19().features`, truncated after module `upto` (indices keep their numbering)."""
    modules: list[nn.Module] = []
    in_nc = 3
    for item in VGG19_LAYOUT:
        if item == "M":
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            modules += [nn.Conv2d(in_nc, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            in_nc = int(item)
    return nn.Sequential(*modules[: upto + 1])


class VGG19Features(nn.Module):
    """Frozen VGG19 returning the activations at `layers`.

    Input: (B, 3, H, W) ImageNet-normalised RGB. Output: {layer name: (B, C_l, H_l, W_l)}.
    `backbone` names where the weights came from ("vgg19" = ImageNet file, "vgg19_random" = fixed
    random init) so that runs and checkpoints can record it.
    """

    def __init__(self, layers: tuple[str, ...] = DEFAULT_LAYERS, *, backbone: str = "vgg19_random") -> None:
        super().__init__()
        unknown = [name for name in layers if name not in LAYER_INDEX]
        if unknown:
            raise ValueError(f"unknown VGG19 layers {unknown}; choose from {list(LAYER_INDEX)}")
        self.layers = tuple(layers)
        self.backbone = backbone
        self.features = _features(max(LAYER_INDEX[name] for name in layers))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:  # always frozen, always eval
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        wanted = {LAYER_INDEX[name]: name for name in self.layers}
        out = {}
        for index, module in enumerate(self.features):
            x = module(x)
            if index in wanted:
                out[wanted[index]] = x
        return out


def default_weights_path() -> Path:
    """Where torchvision caches its VGG19 weights: $TORCH_HOME (or ~/.cache/torch)/hub/checkpoints/."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )
    return Path(torch_home) / "hub" / "checkpoints" / TORCHVISION_FILE


def load_vgg19(path: str | os.PathLike[str], layers: tuple[str, ...] = DEFAULT_LAYERS) -> VGG19Features:
    """VGG19 features with ImageNet weights from a local torchvision-layout state dict.

    Keys `features.{i}.*` up to the deepest requested layer must all be present with torchvision's
    shapes; deeper `features.*` and all `classifier.*` keys are ignored. Loaded with weights_only=True.
    Raises CheckpointError naming the file and the offending keys.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: VGG19 weights file not found")
    state = read_torch_file(path, what="VGG19 weights file")
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state dict, got {type(state).__name__}")
    model = VGG19Features(layers, backbone="vgg19")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    mis_shaped = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or mis_shaped:
        raise CheckpointError(
            f"{path}: not a torchvision VGG19 state dict: missing {missing[:4]}, shape mismatches {mis_shaped[:3]}"
        )
    model.load_state_dict({k: state[k].float() for k in expected}, strict=True)
    return model


def random_vgg19(layers: tuple[str, ...] = DEFAULT_LAYERS, *, seed: int = 0) -> VGG19Features:
    """VGG19 with fixed random weights (He-normal, zero bias) drawn from `seed`, independent of the
    global RNG. He init keeps activation scales similar through depth, so all five layers contribute."""
    model = VGG19Features(layers, backbone="vgg19_random")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.features:
            if isinstance(module, nn.Conv2d):
                fan_in = module.in_channels * 9
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5
                )
                module.bias.zero_()
    return model
