"""Acceptance with the SynthHead-trained renderer: edits move the image towards SynthHead's own render.

`edit --yaw 20` must be closer (PSNR) to SynthHead's render of the same head at yaw +20 degrees than
the unedited source is; likewise for named expression presets, which pass with `keep_unchanged`
(the renderer's whole output is marked xfail for them). Skipped (with the reason) until the trained
renderer is shipped in pirender/assets/renderer_synthhead_128/.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import pirender
from pirender.motion.extract.synthhead import DEFAULT_WEIGHTS as EXTRACTOR_WEIGHTS
from pirender.pipelines.edits import load_preset
from pirender.pipelines.models import DEFAULT_RENDERER
from pirender.synth import Identity, SynthHead, neutral_coeffs

pytestmark = pytest.mark.skipif(
    not (DEFAULT_RENDERER / "model.safetensors").is_file(),
    reason=f"the SynthHead-trained renderer is not installed yet ({DEFAULT_RENDERER})",
)

SIZE = 128
SEEDS = (101, 202)  # identities the renderer may or may not have seen; the criterion is relative


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _case(
    seed: int, target_coeffs: np.ndarray, coeffs_from: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(source render, target render, the source coefficients to give: the truth, or None = estimate)."""
    if coeffs_from == "extractor" and not EXTRACTOR_WEIGHTS.is_file():
        pytest.skip(f"the SynthHead extractor is not installed ({EXTRACTOR_WEIGHTS})")
    head = SynthHead(Identity.from_seed(seed), SIZE)
    own = neutral_coeffs()
    return head.render(own), head.render(target_coeffs), own if coeffs_from == "truth" else None


@pytest.mark.parametrize("coeffs_from", ["truth", "extractor"])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("keep_unchanged", [False, True], ids=["whole_render", "keep_unchanged"])
def test_yaw_edit_approaches_synthhead_render(seed: int, coeffs_from: str, keep_unchanged: bool) -> None:
    target_coeffs = neutral_coeffs()
    target_coeffs[65] = math.radians(20)  # angle[1] = yaw
    source, target, own = _case(seed, target_coeffs, coeffs_from)
    edited = pirender.edit(source, yaw=20, source_coeffs=own, size=SIZE, keep_unchanged=keep_unchanged)
    before, after = psnr(source, target), psnr(edited, target)
    print(
        f"seed {seed} yaw+20 ({coeffs_from}, keep_unchanged={keep_unchanged}): "
        f"PSNR source->target {before:.2f} dB, edit->target {after:.2f} dB"
    )
    assert after > before


def _xfail(reason: str) -> pytest.MarkDecorator:
    # strict=True: a renderer that passes turns the case into a failure, and the marker goes.
    return pytest.mark.xfail(strict=True, reason=reason)


_SOFT = "renderer's whole output below these presets' ~28 dB source->target PSNR (docs/training.md)"


# The presets that change a SynthHead face the most (source->target PSNR ~28 dB at 128 px); subtle
# ones like "smile" (~40 dB) leave no room above a renderer's reconstruction error. whole_render is
# the renderer's output as it is; keep_unchanged keeps the source's own pixels where the edit does
# not change the render (pipelines.keep_unchanged).
@pytest.mark.parametrize(
    ("keep_unchanged", "name", "coeffs_from"),
    [
        pytest.param(False, "jaw_open", "truth", id="whole_render-jaw_open-truth"),
        pytest.param(False, "jaw_open", "extractor", id="whole_render-jaw_open-extractor"),
        pytest.param(False, "surprise", "truth", id="whole_render-surprise-truth"),
        pytest.param(
            False, "surprise", "extractor", id="whole_render-surprise-extractor", marks=_xfail(_SOFT)
        ),
        pytest.param(True, "jaw_open", "truth", id="keep_unchanged-jaw_open-truth"),
        pytest.param(True, "jaw_open", "extractor", id="keep_unchanged-jaw_open-extractor"),
        pytest.param(True, "surprise", "truth", id="keep_unchanged-surprise-truth"),
        pytest.param(True, "surprise", "extractor", id="keep_unchanged-surprise-extractor"),
    ],
)
def test_expression_preset_approaches_synthhead_render(
    name: str, coeffs_from: str, keep_unchanged: bool
) -> None:
    preset = load_preset(name)
    target_coeffs = neutral_coeffs()
    target_coeffs[:64] = preset.exp
    source, target, own = _case(SEEDS[0], target_coeffs, coeffs_from)
    edited = pirender.edit(source, preset=name, source_coeffs=own, size=SIZE, keep_unchanged=keep_unchanged)
    before, after = psnr(source, target), psnr(edited, target)
    print(
        f"preset {name} ({coeffs_from}, keep_unchanged={keep_unchanged}): "
        f"PSNR source->target {before:.2f} dB, edit->target {after:.2f} dB"
    )
    assert after > before
