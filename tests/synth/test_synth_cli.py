"""`pirender synth`: dataset written in the official layout, read back by VoxLMDB; preview; errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pirender.cli.main import main
from pirender.data.lmdb_schema import VoxLMDB, person_id
from pirender.data.synth_dataset import video_seed
from pirender.synth import talking_clip


def test_synth_dataset_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    argv = ["synth", "--out", str(out), "--identities", "3", "--videos-per-identity", "2", "--frames", "6"]
    assert main([*argv, "--size", "64", "--talking", "--seed", "10", "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["64", "test_list.txt", "train_list.txt"]
    data = VoxLMDB(out)
    assert data.size == 64 and len(data) == 6
    train, test = data.videos("train"), data.videos("test")
    assert len(train) == 4 and len(test) == 2
    assert {person_id(v) for v in train}.isdisjoint({person_id(v) for v in test})  # split by identity
    assert test == ["synth00012#v000", "synth00012#v001"]
    video = train[0]
    assert data.num_frames(video) == 6
    frame = data.frame(video, 5)
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    assert data.frame_bytes(video, 0)[:2] == b"\xff\xd8"  # JPEG
    rows = data.coeff_rows(video)
    assert rows.shape == (6, 260) and rows.dtype == np.float32
    clip = talking_clip(video_seed(10, 0), 6, 25.0)
    np.testing.assert_array_equal(data.motion(video), clip.motion)
    np.testing.assert_array_equal(rows[:, 80:144], clip.motion[:, :64])  # exp at the official columns
    np.testing.assert_array_equal(rows[:, 257:260], clip.motion[:, 70:73])  # crop (s, tx, ty)
    samples, sample_rate = data.audio(video)
    assert sample_rate == 16000 and samples.shape == clip.audio.shape
    np.testing.assert_allclose(samples, clip.audio, atol=1.0 / 32000)  # 16-bit PCM
    assert data.fps(video) == 25.0


def test_silent_dataset_has_no_audio(tmp_path: Path) -> None:
    out = tmp_path / "silent"
    assert (
        main(
            [
                "synth",
                "--out",
                str(out),
                "--identities",
                "1",
                "--frames",
                "2",
                "--size",
                "32",
                "--no-progress",
            ]
        )
        == 0
    )
    data = VoxLMDB(out, size=32)
    assert data.videos("test") == []
    assert data.audio(data.videos("train")[0]) is None


def test_bad_arguments_leave_no_output(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bad"
    assert main(["synth", "--out", str(out), "--identities", "0", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "--identities" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert main(["synth", "--out", str(out), "--size", "8", "--no-progress"]) == 1
    assert not out.exists()
    assert main(["synth"]) == 1


def test_preview_contact_sheet(tmp_path: Path) -> None:
    png = tmp_path / "sheet.png"
    assert main(["synth", "--preview", str(png), "--preview-identities", "2", "--size", "48"]) == 0
    sheet = np.asarray(Image.open(png))
    assert sheet.shape[0] > 2 * 48 and sheet.shape[1] == 10 * 48
    tiles = sheet[-96:].reshape(2, 48, 10, 48, 3).transpose(0, 2, 1, 3, 4).astype(np.float32)
    assert np.abs(tiles[0, 0] - tiles[1, 0]).mean() > 5  # identities differ
    assert np.abs(tiles[0, 0] - tiles[0, 6]).mean() > 3  # poses differ


def test_edit_videos_hold_large_expression_changes(tmp_path: Path, capsys) -> None:
    """--edit-videos adds, per identity, videos whose expression jumps between neutral and held
    controls (edit_motion): what editable renderers train on; the first videos stay as they were."""
    from pirender.data.synth_dataset import video_seed
    from pirender.motion.coeffs import ANGLE
    from pirender.synth import EXPRESSION_CONTROLS, random_motion
    from pirender.synth.motion import edit_motion

    out = tmp_path / "edits"
    argv = ["synth", "--out", str(out), "--identities", "1", "--videos-per-identity", "1", "--frames", "60",
            "--size", "32"]  # fmt: skip
    assert main([*argv, "--edit-videos", "1", "--no-progress"]) == 0
    assert "wrote 2 videos (120 frames)" in capsys.readouterr().out
    data = VoxLMDB(out, size=32)
    plain, edits = (data.motion(v) for v in sorted(data.videos("train")))
    np.testing.assert_allclose(plain, random_motion(video_seed(0, 0), 60), atol=1e-6)
    np.testing.assert_allclose(edits, edit_motion(video_seed(0, 1), 60), atol=1e-6)
    controls = edits[:, list(EXPRESSION_CONTROLS.values())]
    assert (controls.max(axis=1) < 0.05).mean() > 0.25 and (controls.max(axis=1) > 0.55).mean() > 0.25
    assert np.abs(np.diff(edits[:, ANGLE], axis=0)).max() < 0.05  # the pose still moves smoothly
    assert main([*argv, "--edit-videos", "-1", "--no-progress"]) == 1
    assert "--edit-videos" in capsys.readouterr().err
