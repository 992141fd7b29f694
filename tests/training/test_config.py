from __future__ import annotations

import json
import math

import pytest

from pirender import PIRenderer
from pirender.cli.main import main
from pirender.errors import InputError
from pirender.training.config import PRESETS, TrainConfig, apply_overrides, preset
from pirender.training.ema import ema_decay


def test_defaults_are_the_official_recipe() -> None:
    c = preset("official_face")
    assert c == TrainConfig()
    assert (c.optim.lr, c.optim.beta1, c.optim.beta2) == (1e-4, 0.5, 0.999)
    assert (c.loss.warp_weight, c.loss.final_weight, c.loss.style_weight, c.loss.num_scales) == (
        2.5,
        4.0,
        250.0,
        4,
    )
    assert (c.warp_steps, c.total_steps, c.data.batch_size, c.data.size) == (200_000, 400_000, 5, 256)
    assert math.isclose(ema_decay(c.ema_half_life_steps), 0.5 ** (32 / 10000), rel_tol=1e-12)
    assert c.renderer == PIRenderer().config


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_resolve_and_round_trip(name: str) -> None:
    c = preset(name)
    assert TrainConfig.from_dict(json.loads(c.to_json())) == c


def test_demo_preset_fits_20_mb() -> None:
    model = PIRenderer(preset("synthhead_small").renderer)
    assert model.num_parameters() * 4 <= 20e6


def test_overrides_are_typed_and_unknown_keys_rejected() -> None:
    c = apply_overrides(TrainConfig(), {"data.batch_size": "8", "optim.official_scheduler_quirk": "true",
                                        "renderer.max_nc": 64, "loss.backbone": "l1", "total_steps": "1_000"})  # fmt: skip
    assert (c.data.batch_size, c.optim.official_scheduler_quirk, c.renderer.max_nc) == (8, True, 64)
    assert (c.loss.backbone, c.total_steps) == ("l1", 1000)
    with pytest.raises(InputError, match="unknown config key"):
        apply_overrides(TrainConfig(), {"data.batchsize": "8"})
    with pytest.raises(InputError, match="expects int"):
        apply_overrides(TrainConfig(), {"data.batch_size": "eight"})
    with pytest.raises(InputError, match="one of"):
        apply_overrides(TrainConfig(), {"precision": "fp16"})
    with pytest.raises(InputError, match="multiple of"):
        apply_overrides(TrainConfig(), {"data.size": "100"})


def test_cli_dry_run_prints_the_resolved_config(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--preset", "synthhead_tiny", "--data.batch_size", "3", "--set", "optim.lr=0.001",
                 "--dry-run"])  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["data"]["batch_size"] == 3 and printed["optim"]["lr"] == 0.001
    assert printed["renderer"]["descriptor_nc"] == 16
    assert main(["train", "--set", "nope=1", "--dry-run"]) == 1
    assert "unknown config key(s): nope" in capsys.readouterr().err
