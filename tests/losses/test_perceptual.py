from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from pirender.errors import CheckpointError, InputError
from pirender.losses.perceptual import FALLBACK_BACKBONE, PerceptualLoss, build_losses, gram, resolve_backbone
from pirender.losses.vgg import LAYER_INDEX, VGG19Features, load_vgg19, random_vgg19

# torchvision vgg19().features: conv indices and widths of configuration "E".
TORCHVISION_CONVS = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256),
                     14: (256, 256), 16: (256, 256), 19: (512, 256), 21: (512, 512), 23: (512, 512),
                     25: (512, 512), 28: (512, 512), 30: (512, 512), 32: (512, 512), 34: (512, 512)}  # fmt: skip


def _torchvision_like_state(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state = {}
    for i, (out_c, in_c) in TORCHVISION_CONVS.items():
        state[f"features.{i}.weight"] = torch.randn(out_c, in_c, 3, 3, generator=g) * 0.05
        state[f"features.{i}.bias"] = torch.randn(out_c, generator=g) * 0.01
    state["classifier.0.weight"] = torch.zeros(8, 4)  # ignored (shape irrelevant)
    return state


def test_vgg_names_match_torchvision_and_local_file_loads(tmp_path: Path) -> None:
    names = set(VGG19Features().state_dict())
    expected = {f"features.{i}.{p}" for i in TORCHVISION_CONVS if i <= 28 for p in ("weight", "bias")}
    assert names == expected
    assert LAYER_INDEX == {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu5_1": 29}
    state = _torchvision_like_state()
    torch.save(state, tmp_path / "vgg19.pth")
    model = load_vgg19(tmp_path / "vgg19.pth")
    assert model.backbone == "vgg19"
    assert torch.equal(model.features[28].weight, state["features.28.weight"])
    assert not any(p.requires_grad for p in model.parameters())
    out = model(torch.randn(1, 3, 32, 32))
    assert [tuple(v.shape) for v in out.values()] == [(1, 64, 32, 32), (1, 128, 16, 16), (1, 256, 8, 8),
                                                     (1, 512, 4, 4), (1, 512, 2, 2)]  # fmt: skip


def test_bad_vgg_file_names_the_problem(tmp_path: Path) -> None:
    state = _torchvision_like_state()
    del state["features.10.weight"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="features.10.weight"):
        load_vgg19(tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="not found"):
        load_vgg19(tmp_path / "missing.pth")


def test_pixel_pyramid_loss_is_the_spec_formula() -> None:
    torch.manual_seed(0)
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    loss = PerceptualLoss(None, num_scales=3)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x, y = ((a + 1) / 2 - mean) / std, ((b + 1) / 2 - mean) / std
    expected = 0.0
    for s in range(3):
        if s:
            x = F.interpolate(
                x, scale_factor=0.5, mode="bilinear", align_corners=False, recompute_scale_factor=True
            )
            y = F.interpolate(
                y, scale_factor=0.5, mode="bilinear", align_corners=False, recompute_scale_factor=True
            )
        expected += F.l1_loss(x, y)
    terms = loss(a, b)
    torch.testing.assert_close(terms.total, expected)
    assert terms.style == 0


def test_vgg_loss_style_term_and_gradients() -> None:
    torch.manual_seed(0)
    features = random_vgg19(seed=0)
    loss = PerceptualLoss(features, num_scales=2, style_weight=250.0, backbone="vgg19_random")
    target = torch.rand(1, 3, 32, 32) * 2 - 1
    image = (target + 0.3 * torch.randn_like(target)).clamp(-1, 1).requires_grad_(True)
    same = loss(target, target)
    assert same.total.item() == 0.0
    terms = loss(image, target)
    assert terms.perceptual > 0 and terms.style > 0
    torch.testing.assert_close(terms.total, terms.perceptual + 250.0 * terms.style)
    terms.total.backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    f = torch.randn(2, 4, 3, 5)
    expected = torch.einsum("bchw,bdhw->bcd", f, f) / (4 * 3 * 5)
    torch.testing.assert_close(gram(f), expected)


def test_random_vgg_is_fixed_by_seed() -> None:
    torch.manual_seed(123)
    a = random_vgg19(("relu1_1",), seed=0)
    torch.manual_seed(456)  # the global RNG plays no part
    b, c = random_vgg19(("relu1_1",), seed=0), random_vgg19(("relu1_1",), seed=1)
    assert torch.equal(a.features[0].weight, b.features[0].weight)
    assert not torch.equal(a.features[0].weight, c.features[0].weight)


def test_backbone_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    name, path, message = resolve_backbone("auto")
    assert name == FALLBACK_BACKBONE and path is None and "vgg19" in message
    with pytest.raises(InputError, match="no VGG19 weights"):
        resolve_backbone("vgg19")
    file = tmp_path / "empty" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    file.parent.mkdir(parents=True)
    torch.save(_torchvision_like_state(), file)
    assert resolve_backbone("auto")[:2] == ("vgg19", file)  # found in torchvision's cache
    assert resolve_backbone("l1") == ("l1", None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warp, final, name = build_losses("auto", num_scales=1)
    assert name == "vgg19" and warp.style_weight == 0 and final.style_weight == 250.0
    assert warp.features is final.features  # one shared frozen network
