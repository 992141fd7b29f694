"""LPIPS (Zhang et al. 2018, "lin" v0.1, VGG16 variant) from two local files, nothing downloaded.

    backbone: torchvision's VGG16 state dict (`vgg16-397923af.pth`, keys `features.{i}.*`)
    heads:    the `lpips` package's `weights/v0.1/vgg.pth` (keys `lin{k}.model.1.weight`, (1, C, 1, 1))

Distance: scale the [-1, 1] input with LPIPS's shift/scale, take VGG16 relu1_2 / relu2_2 / relu3_3 /
relu4_3 / relu5_3, unit-normalise each feature vector over channels, square the difference, weight
channels with the 1x1 head, average over space and sum over layers.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pirender.errors import CheckpointError
from pirender.weights.torch_file import read_torch_file

VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
TAPS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in torchvision numbering
CHANNELS = (64, 128, 256, 512, 512)
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


def _load(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: LPIPS weights file not found")
    state = read_torch_file(path, what="LPIPS weights file")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state dict")
    return state


class LPIPS(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_nc = 3
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_nc, int(item), 3, padding=1), nn.ReLU()]
                in_nc = int(item)
        self.features = nn.Sequential(*layers)
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_files(cls, backbone: str | Path, heads: str | Path) -> LPIPS:
        model = cls()
        vgg, lin = _load(Path(backbone)), _load(Path(heads))
        wanted = {k: v for k, v in model.state_dict().items() if k.startswith("features.")}
        missing = [k for k in wanted if k not in vgg or vgg[k].shape != wanted[k].shape]
        if missing:
            raise CheckpointError(f"{backbone}: not a torchvision VGG16 state dict (bad keys {missing[:3]})")
        head_keys = [f"lin{k}.model.1.weight" for k in range(len(CHANNELS))]
        bad = [
            k
            for k, c in zip(head_keys, CHANNELS, strict=True)
            if k not in lin or lin[k].shape != (1, c, 1, 1)
        ]
        if bad:
            raise CheckpointError(f"{heads}: not LPIPS v0.1 VGG heads (bad keys {bad[:3]})")
        state = {k: vgg[k].float() for k in wanted}
        state.update({f"heads.{k}.weight": lin[key].float() for k, key in enumerate(head_keys)})
        model.load_state_dict(state, strict=True)
        return model

    def forward(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) x2 in [-1, 1] -> (B,) distances."""
        x = (image.float() - self.shift) / self.scale
        y = (target.float() - self.shift) / self.scale
        total = x.new_zeros(x.shape[0])
        tap = 0
        for index, module in enumerate(self.features):
            x, y = module(x), module(y)
            if index == TAPS[tap]:
                nx = x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                ny = y / (y.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                total = total + self.heads[tap]((nx - ny).pow(2)).mean((1, 2, 3))
                tap += 1
                if tap == len(TAPS):
                    break
        return total
