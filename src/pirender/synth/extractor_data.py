"""Training and evaluation samples for the SynthHead extractor: random identity, pose and expression.

One distribution, used by the training script (bench/train_synth_extractor.py), the held-out
evaluation in docs/motion.md and the tests, so the three agree. Identities come from disjoint seed
ranges: training identities are 0 .. 999_999, held-out identities start at HELD_OUT_IDENTITY_SEED.
"""

from __future__ import annotations

import numpy as np

from pirender.motion.coeffs import ANGLE, CROP, TRANS

HELD_OUT_IDENTITY_SEED = 1_000_000

# Ranges (uniform) of the sampled motion. Angles in radians (pitch, yaw, roll).
ANGLE_RANGE = np.array([0.35, 0.6, 0.3])
TRANS_RANGE = np.array([0.15, 0.15, 0.5])
CROP_SCALE_RANGE = (0.95, 1.45)  # SynthHead frames: s = 1.2 at rest, 0.96-1.44 in its datasets
CROP_SHIFT_RANGE = 10.0  # px around 128
CONTROL_ACTIVE_PROBABILITY = 0.45


def sample_coeffs(rng: np.random.Generator) -> np.ndarray:
    """One random (73,) coefficient vector in SynthHead's valid ranges (controls active at random)."""
    from pirender.synth import EXPRESSION_CONTROLS, neutral_coeffs
    from pirender.synth.expression import CONTROL_RANGES

    coeffs = neutral_coeffs().astype(np.float64)
    for name, slot in EXPRESSION_CONTROLS.items():
        if rng.random() < CONTROL_ACTIVE_PROBABILITY:
            lo, hi = CONTROL_RANGES[name]
            coeffs[slot] = rng.uniform(lo, hi)
    coeffs[ANGLE] = rng.uniform(-1, 1, 3) * ANGLE_RANGE
    coeffs[TRANS] = rng.uniform(-1, 1, 3) * TRANS_RANGE
    coeffs[CROP] = [
        rng.uniform(*CROP_SCALE_RANGE),
        128 + rng.uniform(-CROP_SHIFT_RANGE, CROP_SHIFT_RANGE),
        128 + rng.uniform(-CROP_SHIFT_RANGE, CROP_SHIFT_RANGE),
    ]
    return coeffs.astype(np.float32)


def render_samples(
    identity_seeds: list[int],
    per_identity: int,
    *,
    seed: int,
    size: int = 128,
    render_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render `per_identity` random samples of each identity.

    Args:
        identity_seeds: Identity.from_seed seeds.
        per_identity: samples per identity.
        seed: seed of the motion sampler.
        size: output size of the images.
        render_size: render at this size and downsample to `size` as the extractor does (None = size).
    Returns:
        images (N, size, size, 3) uint8, coeffs (N, 73) float32.
    """
    from pirender.motion.extract.synthhead import prepare_images
    from pirender.synth import Identity, SynthHead

    rng = np.random.default_rng(seed)
    images, coeffs = [], []
    for identity_seed in identity_seeds:
        head = SynthHead(Identity.from_seed(identity_seed), render_size or size)
        for _ in range(per_identity):
            c = sample_coeffs(rng)
            image = head.render(c)
            if render_size and render_size != size:
                image = ((prepare_images([image], size)[0].permute(1, 2, 0).numpy() + 1) * 127.5).round()
                image = image.clip(0, 255).astype(np.uint8)
            images.append(image)
            coeffs.append(c)
    return np.stack(images), np.stack(coeffs)
