"""Source conditioning (ours): the mapping network also sees the change asked of the source."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pirender import PIRenderer, RendererConfig, load_renderer
from pirender.errors import InputError
from pirender.training.standardize import coefficient_stats, plain_renderer, standardize


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    windows = torch.randn(2, 73, 27, generator=g) * 0.2
    windows[:, 70:] += torch.tensor([1.0, 128.0, 128.0])[:, None]  # the crop at its raw scale
    own = windows[:, :, 13] + torch.randn(2, 73, generator=g) * 0.3
    return image, windows, own


def test_switching_it_on_keeps_the_output_and_it_then_depends_on_the_source() -> None:
    image, windows, own = _inputs()
    torch.manual_seed(0)
    plain = PIRenderer(RendererConfig.tiny()).eval()
    model = plain.with_source_conditioning().eval()
    assert model.config.source_conditioning and not plain.config.source_conditioning
    with torch.no_grad():
        assert torch.equal(model(image, windows, source_coeffs=own).image, plain(image, windows).image)
        torch.nn.init.normal_(model.mapping_net.source.weight, std=0.1)
        one = model(image, windows, source_coeffs=own).image
        other = model(image, windows, source_coeffs=own + 0.5).image
        assert not torch.allclose(one, other)
    # a plain model ignores source coefficients (pipelines may always pass them)
    assert torch.equal(plain(image, windows, source_coeffs=own).image, plain(image, windows).image)
    with pytest.raises(InputError, match="source-conditioned: pass source_coeffs"):
        model(image, windows)
    with pytest.raises(InputError, match=r"source_coeffs must be \(2, 73\)"):
        model(image, windows, source_coeffs=own[:1])
    with pytest.raises(InputError, match="already source-conditioned"):
        model.with_source_conditioning()
    with pytest.raises(InputError, match="source_conditioning must be true or false"):
        RendererConfig(source_conditioning="yes")  # type: ignore[arg-type]


def test_standardized_training_folds_exactly_and_round_trips(tmp_path: Path) -> None:
    image, windows, own = _inputs(1)
    torch.manual_seed(1)
    model = PIRenderer(RendererConfig.tiny()).with_source_conditioning().eval()
    torch.nn.init.normal_(model.mapping_net.source.weight, std=0.05)
    rows = windows.permute(0, 2, 1).reshape(-1, 73).numpy()
    mean, std = coefficient_stats(rows)
    with torch.no_grad():
        before = model(image, windows, source_coeffs=own).image
        standardize(model, mean, std, keep_function=True)
        after = model(image, windows, source_coeffs=own).image
        plain = plain_renderer(model)
        folded = plain(image, windows, source_coeffs=own).image
    assert (after - before).abs().max() < 5e-5 and (folded - after).abs().max() < 5e-5
    assert type(plain.mapping_net.source) is torch.nn.Linear
    loaded = load_renderer(plain.save_pretrained(tmp_path / "model"))
    assert loaded.config.source_conditioning
    with torch.no_grad():
        assert torch.equal(loaded(image, windows, source_coeffs=own).image, folded)
