"""A small SynthHead LMDB (64 px) made once per session, and a tiny-config helper."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pirender.training.config import TrainConfig, apply_overrides, preset


@pytest.fixture(scope="session")
def synth_lmdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pirender.data.synth_dataset import SynthDatasetSpec, write_dataset

    out = tmp_path_factory.mktemp("synth") / "lmdb64"
    # 6 identities x 2 videos x 10 frames; the last 2 identities are the test split.
    spec = SynthDatasetSpec(identities=6, videos_per_identity=2, frames=10, size=64, test_fraction=0.34)
    return write_dataset(out, spec)


@pytest.fixture()
def lmdb_copy(synth_lmdb: Path, tmp_path: Path) -> Path:
    """A private copy that a test may damage."""
    return Path(shutil.copytree(synth_lmdb, tmp_path / "lmdb"))


def tiny_config(data: Path, run_dir: Path, **overrides) -> TrainConfig:
    """synthhead_tiny with pixel-L1 loss (fast), 1 pair per step, no workers."""
    base = {
        "data.path": str(data),
        "run_dir": str(run_dir),
        "data.batch_size": 1,
        "loss.backbone": "l1",
        "total_steps": 4,
        "warp_steps": 2,
        "checkpoint_every": 2,
        "log_every": 100,
    }
    base.update(overrides)
    return apply_overrides(preset("synthhead_tiny"), base)


__all__ = ["TrainConfig", "tiny_config"]


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: on a shared 2-core machine two spinning OpenMP threads can be many times
    slower than one, and the subprocesses these tests start use the same count (bit-identity)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
