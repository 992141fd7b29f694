"""Our renderer reproduces the official model's outputs (../shared/reference vectors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import pirender
from pirender.models.flow import flow_to_grid

TINY_TOL = 5e-5
FULL_TOL = 1e-4


def _max_abs(a: torch.Tensor, b: np.ndarray) -> float:
    return float(np.abs(a.detach().numpy().astype(np.float64) - b.astype(np.float64)).max())


@pytest.fixture(scope="module")
def tiny_vectors(reference_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(reference_dir / "tiny_vectors.npz"))


@torch.no_grad()
def test_tiny_ema_full_and_warp_only(tiny_checkpoint: Path, tiny_vectors: dict) -> None:
    model = pirender.load_renderer(tiny_checkpoint)
    assert model.config == pirender.RendererConfig.tiny()
    assert model.num_parameters() == 620_685
    source = torch.from_numpy(tiny_vectors["source_image"])
    coeffs = torch.from_numpy(tiny_vectors["driving_source"])
    assert _max_abs(model.encode_motion(coeffs), tiny_vectors["descriptor"]) < TINY_TOL
    full = model(source, coeffs)
    assert _max_abs(full.flow, tiny_vectors["full.flow_field"]) < TINY_TOL
    assert _max_abs(full.warped_image, tiny_vectors["full.warp_image"]) < TINY_TOL
    assert _max_abs(full.image, tiny_vectors["full.fake_image"]) < TINY_TOL
    assert _max_abs(flow_to_grid(full.flow), tiny_vectors["full.deformation"]) < TINY_TOL
    warp = model(source, coeffs, warp_only=True)
    assert warp.image is None
    assert _max_abs(warp.flow, tiny_vectors["warp.flow_field"]) < TINY_TOL
    assert _max_abs(warp.warped_image, tiny_vectors["warp.warp_image"]) < TINY_TOL
    assert torch.equal(warp.warped_image, full.warped_image)  # the warp stage is the same computation


@torch.no_grad()
def test_tiny_raw_weights(tiny_checkpoint: Path, tiny_vectors: dict) -> None:
    raw = pirender.load_renderer(tiny_checkpoint, weights="raw")
    out = raw(
        torch.from_numpy(tiny_vectors["source_image"]), torch.from_numpy(tiny_vectors["driving_source"])
    )
    assert _max_abs(out.image, tiny_vectors["netG.full.fake_image"]) < TINY_TOL
    # and it really is the other weight set: the EMA output is far from it
    assert np.abs(tiny_vectors["netG.full.fake_image"] - tiny_vectors["full.fake_image"]).max() > 0.1


@torch.no_grad()
def test_tiny_float64_matches_float64_reference(tiny_checkpoint: Path, tiny_vectors: dict) -> None:
    model = pirender.load_renderer(tiny_checkpoint).double()
    out = model(
        torch.from_numpy(tiny_vectors["source_image"]).double(),
        torch.from_numpy(tiny_vectors["driving_source"]).double(),
    )
    assert _max_abs(out.image, tiny_vectors["f64.full.fake_image"]) < 1e-10
    assert _max_abs(out.warped_image, tiny_vectors["f64.full.warp_image"]) < 1e-10


@torch.no_grad()
def test_full_size_rule_weights_through_official_checkpoint(full_reference: dict, tmp_path: Path) -> None:
    vectors, weights = full_reference["vectors"], full_reference["weights"]
    # the container the official trainer writes, minus opt_G/sch_G like the released file
    path = tmp_path / "epoch_00190_iteration_000400000_checkpoint.pt"
    torch.save(
        {
            "net_G": {f"module.{k}": v for k, v in weights.items()},
            "net_G_ema": weights,
            "current_epoch": 190,
            "current_iteration": 400000,
        },
        path,
    )
    model = pirender.load_renderer(path)
    assert model.config == pirender.RendererConfig()
    assert model.num_parameters() == 22_519_109
    source = torch.from_numpy(vectors["source_image"])
    coeffs = torch.from_numpy(vectors["driving_source"])
    out = model(source, coeffs)
    assert _max_abs(model.encode_motion(coeffs), vectors["descriptor"]) < FULL_TOL
    assert _max_abs(out.flow, vectors["full.flow_field"]) < FULL_TOL
    assert _max_abs(out.warped_image, vectors["full.warp_image"]) < FULL_TOL
    assert _max_abs(out.image, vectors["full.fake_image"]) < FULL_TOL
    assert _max_abs(flow_to_grid(out.flow), vectors["full.deformation"]) < FULL_TOL
    warp = model(source, coeffs, warp_only=True)
    assert _max_abs(warp.warped_image, vectors["warp.warp_image"]) < FULL_TOL


@torch.no_grad()
def test_save_pretrained_roundtrip_is_bit_identical(
    tiny_checkpoint: Path, tiny_vectors: dict, tmp_path: Path
) -> None:
    model = pirender.load_renderer(tiny_checkpoint)
    model.save_pretrained(tmp_path / "tiny")
    assert sorted(p.name for p in (tmp_path / "tiny").iterdir()) == ["config.json", "model.safetensors"]
    again = pirender.load_renderer(tmp_path / "tiny")
    assert again.config == model.config
    source = torch.from_numpy(tiny_vectors["source_image"])
    coeffs = torch.from_numpy(tiny_vectors["driving_source"])
    a, b = model(source, coeffs), again(source, coeffs)
    assert torch.equal(a.image, b.image) and torch.equal(a.flow, b.flow)
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
