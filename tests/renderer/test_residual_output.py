"""The residual editing output (ours; `editing_output="residual"`), never in official checkpoints."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pirender import PIRenderer, RendererConfig
from pirender.engine import RenderEngine
from pirender.errors import InputError


def _residual_model(zero_final: bool) -> PIRenderer:
    torch.manual_seed(0)
    model = PIRenderer(dataclasses.replace(RendererConfig.tiny(), editing_output="residual")).eval()
    if zero_final:
        with torch.no_grad():
            model.editing_net.final.weight.zero_()
            model.editing_net.final.bias.zero_()
    return model


def test_a_zero_final_conv_returns_the_warped_image() -> None:
    model = _residual_model(zero_final=True)
    source, coeffs = torch.rand(2, 3, 64, 64) * 1.8 - 0.9, torch.randn(2, 73, 27) * 0.1
    with torch.no_grad():
        out = model(source, coeffs)
    torch.testing.assert_close(out.image, out.warped_image, atol=1e-6, rtol=0)


def test_the_engine_renders_the_residual_output_like_the_plain_forward(tmp_path) -> None:
    model = _residual_model(zero_final=False)
    source, coeffs = torch.rand(2, 3, 64, 64) * 2 - 1, torch.randn(2, 73, 27) * 0.1
    with torch.no_grad():
        plain = model(source, coeffs).image
    engine = RenderEngine(model, device="cpu", precision="fp32").render(source, coeffs).image
    torch.testing.assert_close(engine, plain, atol=2e-4, rtol=0)
    # and the setting survives a model directory
    from pirender.models.loading import load_renderer

    loaded = load_renderer(model.save_pretrained(tmp_path / "m"))
    assert loaded.config.editing_output == "residual"


def test_official_config_stays_official_and_a_bad_value_is_refused() -> None:
    assert RendererConfig().editing_output == "official"
    with pytest.raises(InputError, match="editing_output"):
        RendererConfig(editing_output="sum")
