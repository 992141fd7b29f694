"""The official conventions the weights were trained with, pinned one by one."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pirender import PIRenderer, RendererConfig
from pirender.errors import InputError
from pirender.models.blocks import LayerNorm2d
from pirender.models.flow import base_grid, flow_to_grid, warp


def test_zero_flow_is_not_identity_under_the_official_convention() -> None:
    image = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8) / 100
    zero_flow = torch.zeros(2, 2, 8, 8)
    warped = warp(image, flow_to_grid(zero_flow))
    # align_corners=True grid sampled with align_corners=False: a slight shrink, border pixels attenuated
    assert not torch.allclose(warped, image)
    # pinned: grid -1 under align_corners=False lies half a pixel outside, so the corner gets 1/4 of its
    # value (zeros padding) and an edge pixel half of a blend
    torch.testing.assert_close(warped[..., 0, 0], image[..., 0, 0] / 4)
    f = 8 / 7 - 0.5  # pixel x coordinate of grid column 1: ((2/7) * 8 - 1) / 2
    torch.testing.assert_close(warped[..., 0, 1], 0.5 * ((1 - f) * image[..., 0, 0] + f * image[..., 0, 1]))
    # the same zero flow with a consistent convention is an exact identity
    identity = F.grid_sample(image, base_grid(8, 8)[None].expand(2, -1, -1, -1), align_corners=True)
    torch.testing.assert_close(identity, image)


def test_flow_is_in_pixels_of_the_flow_grid() -> None:
    flow = torch.zeros(1, 2, 16, 16)
    flow[:, 0] = 1.0  # one flow-grid pixel to the right in x
    grid = flow_to_grid(flow)
    torch.testing.assert_close(grid[0, 0, 1, 0], base_grid(16, 16)[0, 2, 0])


def test_layernorm2d_normalises_over_channels_and_space() -> None:
    x = torch.randn(2, 4, 5, 5) * 3 + 1
    y = LayerNorm2d(4)(x)
    torch.testing.assert_close(y.mean(dim=(1, 2, 3)), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(F.group_norm(x, 1, eps=1e-5), y, atol=1e-5, rtol=0)


@torch.no_grad()
def test_dead_branch_never_reaches_the_output() -> None:
    torch.manual_seed(0)
    model = PIRenderer(RendererConfig.tiny()).eval()
    source, coeffs = torch.rand(1, 3, 64, 64) * 2 - 1, torch.randn(1, 73, 27)
    before = model(source, coeffs).image
    model.set_compute_dead_branch(True)
    assert torch.equal(model(source, coeffs).image, before)
    for name, p in model.named_parameters():
        if ".conv1." in name or ".norm1." in name:
            p.add_(1.0)
            assert not p.requires_grad  # no gradient and no optimizer state, as in official training
    assert torch.equal(model(source, coeffs).image, before)


@torch.no_grad()
def test_fixed_resblock_uses_conv1() -> None:
    torch.manual_seed(0)
    official = PIRenderer(RendererConfig.tiny()).eval()
    fixed = PIRenderer(RendererConfig(**{**RendererConfig.tiny().to_dict(), "resblock": "fixed"})).eval()
    fixed.load_state_dict(official.state_dict())
    source, coeffs = torch.rand(1, 3, 64, 64) * 2 - 1, torch.randn(1, 73, 27)
    assert not torch.allclose(official(source, coeffs).image, fixed(source, coeffs).image)
    assert all(p.requires_grad for p in fixed.parameters())


def test_input_validation() -> None:
    model = PIRenderer(RendererConfig.tiny())
    with pytest.raises(InputError, match="driving_coeffs must be"):
        model(torch.zeros(1, 3, 64, 64), torch.zeros(1, 70, 27))
    with pytest.raises(InputError, match="multiples of 32"):
        model(torch.zeros(1, 3, 48, 48), torch.zeros(1, 73, 27))


def test_config_validation_and_roundtrip() -> None:
    config = RendererConfig.tiny()
    assert RendererConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InputError, match="unknown RendererConfig keys: widht"):
        RendererConfig.from_dict({"widht": 3})
    with pytest.raises(InputError, match="needs at least 25"):
        RendererConfig(semantic_radius=5)
    with pytest.raises(InputError, match="resblock"):
        RendererConfig(resblock="new")


def test_module_summary_shapes() -> None:
    model = PIRenderer(RendererConfig.tiny())
    out = model(torch.zeros(3, 3, 128, 96), torch.zeros(3, 73, 27))
    assert out.flow.shape == (3, 2, 32, 24)
    assert out.warped_image.shape == out.image.shape == (3, 3, 128, 96)
    assert out.image.abs().max() <= 1
