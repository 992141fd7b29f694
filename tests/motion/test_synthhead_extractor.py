"""The shipped SynthHead extractor against fresh renders of identities it never saw.

The bounds are the held-out errors stated in docs/motion.md (measured on 400 renders) with a margin for
the smaller sample drawn here; `bench/train_synth_extractor.py` re-measures them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pirender.motion.extract.synthhead import DEFAULT_WEIGHTS, SynthHeadExtractor
from pirender.motion.extract.synthhead_data import HELD_OUT_IDENTITY_SEED, render_samples

pytest.importorskip("pirender.synth")

# docs/motion.md, "SynthHead extractor": held-out MAE x ~1.6 (this test uses 24 renders, not 400).
MAX_ANGLE_MAE_DEG = 2.5  # held-out 1.5
MAX_YAW_MAE_DEG = 3.0  # held-out 1.7
# The controls the shipped regressor recovers (docs: smile, frown, pucker, lip_stretch and mouth_shift
# are still at chance level, 0.22; brow_furrow and squint only partly, 0.17-0.18).
MAX_CONTROL_MAE = {
    "jaw_open": 0.08,  # held-out 0.037
    "blink_left": 0.12,  # 0.059
    "blink_right": 0.12,  # 0.067
    "brow_raise": 0.17,  # 0.107
    "cheek_puff": 0.13,  # 0.075
}


@pytest.fixture(scope="module")
def held_out() -> tuple[np.ndarray, np.ndarray]:
    # identities and motion seeds that neither training nor the docs evaluation used; rendered
    # directly at the extractor's 128 px (as 3/4 of the training data) to keep the test fast
    seeds = list(range(HELD_OUT_IDENTITY_SEED + 5000, HELD_OUT_IDENTITY_SEED + 5006))
    return render_samples(seeds, 4, seed=777)


def test_shipped_checkpoint_is_small_and_loads() -> None:
    assert DEFAULT_WEIGHTS.is_file() and DEFAULT_WEIGHTS.stat().st_size <= 5_000_000
    assert DEFAULT_WEIGHTS.with_suffix(".json").is_file()
    extractor = SynthHeadExtractor.load()
    assert "held_out_metrics" in extractor.config.provenance


def test_recovers_held_out_pose_and_expression(held_out: tuple[np.ndarray, np.ndarray]) -> None:
    from pirender.synth import EXPRESSION_CONTROLS

    torch.set_num_threads(1)
    images, coeffs = held_out
    predicted = SynthHeadExtractor.load().extract(images)
    assert predicted.shape == (24, 73) and predicted.dtype == np.float32
    angle_err = np.degrees(np.abs(predicted[:, 64:67] - coeffs[:, 64:67]))
    assert angle_err.mean() < MAX_ANGLE_MAE_DEG
    assert angle_err[:, 1].mean() < MAX_YAW_MAE_DEG
    for name, bound in MAX_CONTROL_MAE.items():
        slot = EXPRESSION_CONTROLS[name]
        assert np.abs(predicted[:, slot] - coeffs[:, slot]).mean() < bound, name
    # unnamed expression slots stay exactly 0, as SynthHead ignores them
    unnamed = sorted(set(range(64)) - set(EXPRESSION_CONTROLS.values()))
    assert not predicted[:, unnamed].any()
    # better than guessing the mean pose: the prediction explains most of the yaw variance
    yaw, yaw_hat = coeffs[:, 65], predicted[:, 65]
    assert np.corrcoef(yaw, yaw_hat)[0, 1] > 0.95
