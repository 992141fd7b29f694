"""The official LMDB layout: key names, writer/reader round trip, errors, lazy reopen after pickling."""

from __future__ import annotations

import pickle
from pathlib import Path

import lmdb
import numpy as np
import pytest

from pirender.data import lmdb_schema as schema
from pirender.data.lmdb_schema import VoxLMDB, VoxLMDBWriter
from pirender.errors import InputError
from pirender.motion.coeffs import to_lmdb_rows


def test_key_format_matches_the_official_script() -> None:
    video = "id10010#Fi21gDronE4#001686#002204"
    assert schema.length_key() == b"length"
    assert schema.length_key(video) == f"{video}-length".encode()
    assert schema.frame_key(video, 12) == f"{video}-0000012".encode()
    assert schema.coeff_key(video) == f"{video}-coeff_3dmm".encode()
    assert schema.encode_count(514) == b"0000514"
    assert schema.person_id(video) == "id10010"


def _write(root: Path, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(3, size, size, 3), dtype=np.uint8)
    frames[:] = frames.mean(axis=(1, 2), keepdims=True).astype(np.uint8)  # flat colours survive JPEG
    motion = rng.normal(size=(3, 73)).astype(np.float32)
    with VoxLMDBWriter(root, size) as writer:
        writer.add_video("idA#v1", list(frames), to_lmdb_rows(motion), split="train", fps=30)
        writer.add_video(
            "idB#v1",
            list(frames[:1]),
            to_lmdb_rows(motion[:1]),
            split="test",
            audio=(np.zeros(160, np.float32), 16000),
        )
    return frames, motion


def test_round_trip(tmp_path: Path) -> None:
    frames, motion = _write(tmp_path)
    assert (tmp_path / "train_list.txt").read_text() == "idA#v1\n"
    data = VoxLMDB(tmp_path)
    assert len(data) == 2 and data.videos("all") == ["idA#v1", "idB#v1"]
    assert data.persons("train") == {"idA": ["idA#v1"]}
    assert data.num_frames("idA#v1") == 3
    np.testing.assert_allclose(data.frame("idA#v1", 2).astype(int), frames[2].astype(int), atol=3)
    np.testing.assert_array_equal(data.motion("idA#v1"), motion)
    assert data.coeff_rows("idA#v1").shape == (3, 260)
    assert data.fps("idA#v1") == 30.0 and data.fps("idB#v1") is None
    assert data.audio("idA#v1") is None
    samples, sr = data.audio("idB#v1")
    assert sr == 16000 and samples.shape == (160,)
    data.close()  # py-lmdb allows one handle per environment and process
    # Raw layout, read with lmdb directly as the official reader does.
    env = lmdb.open(str(tmp_path / "32"), readonly=True, lock=False)
    with env.begin() as txn:
        assert txn.get(b"length") == b"0000002"
        raw = txn.get(b"idA#v1-coeff_3dmm")
        assert np.frombuffer(raw, np.float32).reshape(3, -1).shape == (3, 260)
    env.close()


def test_missing_and_corrupt_entries_name_key_and_path(tmp_path: Path) -> None:
    _write(tmp_path)
    data = VoxLMDB(tmp_path, size=32)
    with pytest.raises(InputError, match=r"idZ#v1-length.*32"):
        data.num_frames("idZ#v1")
    with pytest.raises(InputError, match="out of range"):
        data.frame("idA#v1", 3)
    data.close()
    env = lmdb.open(str(tmp_path / "32"), map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"idA#v1-coeff_3dmm", b"\x00" * 7)
        txn.put(b"idA#v1-0000001", b"not a jpeg")
    env.close()
    fresh = VoxLMDB(tmp_path, size=32)
    with pytest.raises(InputError, match=r"idA#v1-coeff_3dmm"):
        fresh.coeff_rows("idA#v1")
    with pytest.raises(InputError, match=r"idA#v1-0000001.*not a readable image"):
        fresh.frame("idA#v1", 1)
    fresh.close()
    with pytest.raises(InputError, match="LMDB directory not found"):
        VoxLMDB(tmp_path / "nope")
    with pytest.raises(InputError, match="no LMDB environment"):
        VoxLMDB(tmp_path, size=64)


def test_pickled_reader_reopens(tmp_path: Path) -> None:
    _write(tmp_path)
    data = VoxLMDB(tmp_path)
    assert data.num_frames("idA#v1") == 3  # opens the environment
    assert data.is_open
    state = data.__getstate__() if hasattr(data, "__getstate__") else vars(data)
    assert not any(isinstance(v, lmdb.Environment) for v in (state or {}).values())  # nothing to pickle
    clone = pickle.loads(pickle.dumps(data))
    assert clone.num_frames("idA#v1") == 3
    data.close()
    assert not clone.is_open
    assert clone.num_frames("idA#v1") == 3  # reopened on demand
    clone.close()


def test_forked_worker_opens_its_own_handle(tmp_path: Path) -> None:
    import multiprocessing

    _write(tmp_path)
    data = VoxLMDB(tmp_path)
    assert data.num_frames("idA#v1") == 3  # the parent holds a handle before the fork
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply(_count_frames, (data, "idA#v1")) == 3
    data.close()


def _count_frames(reader: VoxLMDB, video: str) -> int:
    return reader.num_frames(video)


def test_writer_rejects_bad_input(tmp_path: Path) -> None:
    with VoxLMDBWriter(tmp_path, 16) as writer:
        with pytest.raises(InputError):
            writer.add_video("bad-name", [b"x"], np.zeros((1, 260), np.float32), split="train")
        with pytest.raises(InputError):
            writer.add_video("ok", [b"x"], np.zeros((2, 260), np.float32), split="train")
        with pytest.raises(InputError):
            writer.add_video("ok", [b"x"], np.zeros((1, 260), np.float32), split="val")
