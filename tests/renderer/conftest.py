"""The full-size reference weight rule (../shared/reference/README.md), in official key names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pirender.bench.reference_weights import rule_tensor


def rule_weights(reference_dir: Path) -> dict[str, torch.Tensor]:
    """The rule weights for every key the reference JSON lists (names and shapes from the official model)."""
    keys = json.loads((reference_dir / "pirender_face_state_dict.json").read_text())["keys"]
    return {key: rule_tensor(key, tuple(shape)) for key, shape, _ in keys}


@pytest.fixture(scope="session")
def full_reference(reference_dir: Path) -> dict:
    """Vectors of the default architecture (256x256) and the rule weights, checksums verified."""
    import numpy as np

    vectors = dict(np.load(reference_dir / "full_vectors.npz"))
    weights = rule_weights(reference_dir)
    for i, name in enumerate(vectors["wcheck.names"]):
        w = weights[str(name)]
        # float64 sums depend on the reduction order (thread count), so they match to ~1 ulp; the
        # leading values must match bit for bit
        assert w.double().sum().item() == pytest.approx(vectors["wcheck.sum"][i], rel=1e-12, abs=1e-12), name
        assert w.double().abs().sum().item() == pytest.approx(vectors["wcheck.abs_sum"][i], rel=1e-12), name
        assert (w.flatten()[:2].numpy() == vectors["wcheck.head2"][i]).all(), name
    return {"vectors": vectors, "weights": weights}
