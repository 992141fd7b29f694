"""The full-size reference weight rule (../shared/reference/README.md), in official key names."""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import pytest
import torch


def rule_gain(key: str) -> float:
    if key == "mapping_net.first.0.weight":
        return 0.05
    if key == "warpping_net.flow_out.2.weight":
        return 3.0
    if ".mlp_gamma." in key or ".mlp_beta." in key:
        return 0.5
    return 1.0


def rule_weights(reference_dir: Path) -> dict[str, torch.Tensor]:
    keys = json.loads((reference_dir / "pirender_face_state_dict.json").read_text())["keys"]
    state = {}
    for key, shape, _ in keys:
        g = torch.Generator().manual_seed(zlib.crc32(key.encode("utf-8")))
        r = torch.randn(shape, generator=g, dtype=torch.float32)
        if r.numel() == shape[0]:
            state[key] = 0.1 * r if key.endswith("bias") else 1 + 0.1 * r
        else:
            state[key] = r * (rule_gain(key) / math.sqrt(r.numel() // shape[0]))
    return state


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
