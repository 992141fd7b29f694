"""Every motion format round-trips into (T, 73); malformed or unknown files give one-line InputErrors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import lmdb
import numpy as np
import pytest
import scipy.io

from pirender.errors import InputError
from pirender.motion import CROP, CropInfo, Motion, load_motion
from pirender.motion.coeffs import D3D_ANGLE, D3D_EXP, D3D_TRANS, to_lmdb_rows


def _motion(t: int = 7, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coeffs = rng.normal(0, 0.5, (t, 73)).astype(np.float32)
    coeffs[:, CROP] = [1.02, 127.5, 131.0] + rng.normal(0, 0.5, (t, 3))
    return coeffs


def _d3d(coeffs73: np.ndarray, seed: int = 1) -> np.ndarray:
    """(T, 257) Deep3D rows whose exp/angle/trans are coeffs73's and whose other columns are noise."""
    rows = np.random.default_rng(seed).normal(size=(len(coeffs73), 257))
    rows[:, D3D_EXP], rows[:, D3D_ANGLE], rows[:, D3D_TRANS] = (
        coeffs73[:, :64],
        coeffs73[:, 64:67],
        coeffs73[:, 67:70],
    )
    return rows


def _one_line_error(call, path: Path) -> str:  # noqa: ANN001
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_npz_round_trip_with_crop(tmp_path: Path) -> None:
    coeffs = _motion()
    crop = CropInfo(np.random.rand(7, 2) * 100, np.full(7, 150.0), 256, 640, 480)
    Motion(coeffs, fps=29.97, audio_path="/a/b.wav", crop=crop, source="test").save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:  # no object arrays inside
        assert all(data[k].dtype != object for k in data.files)
    loaded = load_motion(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.coeffs, coeffs)
    assert (loaded.fps, loaded.audio_path, loaded.source) == (29.97, "/a/b.wav", "test")
    assert loaded.crop is not None and loaded.crop.size == 256
    assert (loaded.crop.source_width, loaded.crop.source_height) == (640, 480)
    np.testing.assert_allclose(loaded.crop.centers, crop.centers, rtol=1e-6)
    plain = Motion(coeffs[:1])
    plain.save(tmp_path / "p.npz")
    assert Motion.load(tmp_path / "p.npz").crop is None and Motion.load(tmp_path / "p.npz").audio_path is None


def test_deep3d_mat_round_trip(tmp_path: Path) -> None:
    coeffs = _motion()
    params = np.column_stack([np.full(7, 256.0), np.full(7, 256.0), coeffs[:, CROP]])
    scipy.io.savemat(tmp_path / "v.mat", {"coeff": _d3d(coeffs), "transform_params": params})
    np.testing.assert_allclose(load_motion(tmp_path / "v.mat").coeffs, coeffs, rtol=1e-6)
    # Deep3DFaceRecon's per-image split keys
    scipy.io.savemat(
        tmp_path / "s.mat",
        {
            "exp": coeffs[:, :64],
            "angle": coeffs[:, 64:67],
            "trans": coeffs[:, 67:70],
            "transform_params": params,
        },
    )
    np.testing.assert_allclose(load_motion(tmp_path / "s.mat").coeffs, coeffs, rtol=1e-6)


def test_single_image_txt_round_trip(tmp_path: Path) -> None:
    coeffs = _motion(1)
    row = np.concatenate([_d3d(coeffs)[0], [256.0, 256.0], coeffs[0, CROP]])
    np.savetxt(tmp_path / "a_3dmm_coeff.txt", row)  # one value per line, as coeff_detector writes it
    np.testing.assert_allclose(load_motion(tmp_path / "a_3dmm_coeff.txt").coeffs, coeffs, rtol=1e-5)
    np.savetxt(tmp_path / "b.txt", row[None])  # one row
    np.testing.assert_allclose(load_motion(tmp_path / "b.txt").coeffs, coeffs, rtol=1e-5)


def test_sadtalker_mat_takes_crop_from_the_source(tmp_path: Path) -> None:
    coeffs = _motion()
    scipy.io.savemat(tmp_path / "st.mat", {"coeff_3dmm": coeffs[:, :70]})
    _one_line_error(lambda: load_motion(tmp_path / "st.mat"), tmp_path / "st.mat")
    crop = np.array([0.97, 125.0, 133.0], np.float32)
    loaded = load_motion(tmp_path / "st.mat", source_image=crop)
    np.testing.assert_allclose(loaded.coeffs[:, :70], coeffs[:, :70], rtol=1e-6)
    np.testing.assert_allclose(loaded.coeffs[:, CROP], np.tile(crop, (7, 1)))
    # the source as a motion file: its first frame's crop
    source = _motion(3, seed=5)
    Motion(source).save(tmp_path / "src.npz")
    loaded = load_motion(tmp_path / "st.mat", source_image=tmp_path / "src.npz")
    np.testing.assert_allclose(loaded.coeffs[:, CROP], np.tile(source[0, CROP], (7, 1)), rtol=1e-6)
    # SadTalker's preprocessing output (T, 73) carries its own crop
    scipy.io.savemat(tmp_path / "first.mat", {"coeff_3dmm": coeffs})
    np.testing.assert_allclose(load_motion(tmp_path / "first.mat").coeffs, coeffs, rtol=1e-6)


def _write_lmdb(root: Path, videos: dict[str, np.ndarray]) -> None:
    (root / "256").mkdir(parents=True)
    env = lmdb.open(str(root / "256"), map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"length", f"{len(videos):07d}".encode())
        for name, coeffs in videos.items():
            txn.put(f"{name}-length".encode(), f"{len(coeffs):07d}".encode())
            txn.put(f"{name}-coeff_3dmm".encode(), to_lmdb_rows(coeffs).astype(np.float32).tobytes())
    env.close()


def test_official_lmdb(tmp_path: Path) -> None:
    coeffs = _motion(9)
    name = "id10001#abcdEFGH#000100#000250"
    _write_lmdb(tmp_path / "vox", {name: coeffs})
    loaded = load_motion(tmp_path / "vox", video=name)
    np.testing.assert_array_equal(loaded.coeffs, coeffs)
    np.testing.assert_array_equal(load_motion(f"{tmp_path / 'vox'}::{name}").coeffs, coeffs)
    np.testing.assert_array_equal(load_motion(tmp_path / "vox" / "256", video=name).coeffs, coeffs)
    message = _one_line_error(lambda: load_motion(tmp_path / "vox", video="nope"), tmp_path / "vox")
    assert "nope" in message
    _one_line_error(lambda: load_motion(tmp_path / "vox"), tmp_path / "vox")


@pytest.mark.parametrize(
    ("name", "writer", "expected"),
    [
        ("x.mat", lambda p: scipy.io.savemat(p, {"foo": np.zeros(3)}), "coeff"),
        (
            "y.mat",
            lambda p: scipy.io.savemat(
                p, {"coeff": np.zeros((4, 250)), "transform_params": np.zeros((4, 5))}
            ),
            "257",
        ),
        ("z.mat", lambda p: p.write_bytes(b"MATLAB garbage"), ".mat"),
        ("w.txt", lambda p: np.savetxt(p, np.zeros(100)), "262"),
        ("v.txt", lambda p: p.write_text("a b c"), "numeric"),
        ("u.npz", lambda p: np.savez(p, other=np.zeros(3)), "coeffs"),
        ("t.npz", lambda p: np.savez(p, format_version=1, coeffs=np.zeros((3, 70))), "73"),
        ("q.npz", lambda p: zipfile.ZipFile(p, "w").close(), "coeffs"),
        ("r.bvh", lambda p: p.write_text("HIERARCHY"), "unknown motion format"),
    ],
)
def test_malformed_or_unknown_files(tmp_path: Path, name: str, writer, expected: str) -> None:  # noqa: ANN001
    path = tmp_path / name
    writer(path)
    message = _one_line_error(lambda: load_motion(path), path)
    assert expected in message


def test_save_validates_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"expected \(T, 73\)"):  # the one (T, 73) check, one error type
        Motion(np.zeros((3, 70)))
    with pytest.raises(InputError, match="NaN"):
        Motion(np.full((3, 73), np.nan))
    with pytest.raises(InputError):
        Motion(np.zeros((3, 73))).save(tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []


def test_audio_path_is_found_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (work / "speech.wav").write_bytes(b"RIFF")
    coeffs = np.zeros((3, 73), np.float32)
    monkeypatch.chdir(work)
    Motion(coeffs, audio_path="speech.wav").save("m.npz")  # a relative path, written absolute
    with np.load(work / "m.npz") as data:
        assert str(data["audio_path"]) == str(work / "speech.wav")
    # an older file that stored it relative to its working directory
    np.savez(work / "old.npz", format_version=np.array(1), coeffs=coeffs, audio_path=np.array("speech.wav"))
    monkeypatch.chdir(elsewhere)
    assert Motion.load(work / "m.npz").audio_path == str(work / "speech.wav")
    assert Motion.load(work / "old.npz").audio_path == str(work / "speech.wav")
    # the motion and its audio moved together to another folder
    moved = tmp_path / "moved"
    work.rename(moved)
    assert Motion.load(moved / "m.npz").audio_path == str(moved / "speech.wav")
    (moved / "speech.wav").unlink()
    assert Motion.load(moved / "m.npz").audio_path == str(work / "speech.wav")  # missing: as stored
