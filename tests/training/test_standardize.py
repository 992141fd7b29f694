"""Coefficient standardization is an exact reparametrization: folded, it is a plain PIRenderer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pirender import PIRenderer, RendererConfig, load_renderer
from pirender.training import checkpoint as ckpt
from pirender.training.loop import train
from pirender.training.standardize import (
    StandardizedConv1d,
    coefficient_stats,
    fold_state_dict,
    plain_renderer,
    standardize,
)

from .conftest import tiny_config


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A source image, raw-scale coefficient windows (crop centre ~128 px) and their statistics."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.full((73,), 0.2)
    scale[70:] = torch.tensor([0.05, 5.0, 5.0])
    offset = torch.zeros(73)
    offset[70:] = torch.tensor([1.2, 128.0, 125.0])
    rows = offset + scale * torch.randn(500, 73, generator=g)
    rows[:, 64:67] = 0.0  # a constant column: centred only (std floor)
    mean, std = coefficient_stats(rows.numpy())
    windows = offset[None, :, None] + scale[None, :, None] * torch.randn(2, 73, 27, generator=g)
    image = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    return image, windows, mean, std


def test_stats_floor_constant_coefficients() -> None:
    mean, std = coefficient_stats(np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32))
    assert torch.allclose(mean, torch.tensor([2.0, 5.0])) and torch.allclose(std, torch.tensor([1.0, 1.0]))


def test_keep_function_and_fold_are_exact() -> None:
    image, windows, mean, std = _inputs()
    torch.manual_seed(0)
    model = PIRenderer(RendererConfig.tiny()).eval()
    with torch.no_grad():
        before = model(image, windows).image
        standardize(model, mean, std, keep_function=True)
        assert isinstance(model.mapping_net.first, StandardizedConv1d)
        after = model(image, windows).image
        plain = plain_renderer(model)
        folded = plain(image, windows).image
    assert type(plain.mapping_net.first) is torch.nn.Conv1d
    assert set(plain.state_dict()) == set(PIRenderer(RendererConfig.tiny()).state_dict())
    assert (after - before).abs().max() < 5e-5  # float32 rounding (raw inputs ~128)
    assert (folded - after).abs().max() < 5e-5  # float32 rounding (raw inputs ~128)
    # the parametrization really is different: the first layer's stored weights changed
    assert not torch.equal(
        model.state_dict()["mapping_net.first.weight"], plain.state_dict()["mapping_net.first.weight"]
    )
    with pytest.raises(ValueError, match="already standardized"):
        standardize(model, mean, std, keep_function=True)


def test_fold_state_dict_matches_the_module() -> None:
    image, windows, mean, std = _inputs(1)
    torch.manual_seed(1)
    model = PIRenderer(RendererConfig.tiny()).eval()
    standardize(model, mean, std, keep_function=False)  # fresh V, c: a different function
    plain = PIRenderer(RendererConfig.tiny()).eval()
    plain.load_state_dict(fold_state_dict(model.state_dict(), mean, std))
    with torch.no_grad():
        assert (
            plain(image, windows).image - model(image, windows).image
        ).abs().max() < 5e-5  # float32 rounding (raw inputs ~128)


def test_a_standardized_run_exports_a_plain_model(synth_lmdb: Path, tmp_path: Path) -> None:
    config = tiny_config(synth_lmdb, tmp_path / "run", total_steps=2, warp_steps=1)
    assert config.standardize_coeffs  # the SynthHead presets use it
    result = train(config, progress=False)
    state = ckpt.load_training_state(result.run_dir)
    assert set(state["coeff_stats"]) == {"mean", "std"} and state["coeff_stats"]["mean"].shape == (73,)
    exported = load_renderer(result.model_dir)
    ema = ckpt.load_generator(state, "ema")
    assert exported.image_size == ema.image_size == config.data.size  # the size it was trained at travels
    assert all(torch.equal(v, ema.state_dict()[k]) for k, v in exported.state_dict().items())
    # the stored (V, c) differ from the exported plain (W, b) of the same EMA generator
    assert not torch.equal(
        state["ema"]["mapping_net.first.weight"], exported.state_dict()["mapping_net.first.weight"]
    )
