"""`pirender extract` and `pirender crop`: outputs, and one-line errors that leave no output file."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from pirender.cli.main import main
from pirender.media.image import load_image, save_image
from pirender.media.video import probe_video, write_video
from pirender.motion import Motion, load_motion

from .conftest import requires_faces


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_clean_failure(code: int, err: str, out_dir: Path, expected: str) -> None:
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith("pirender")]
    assert len(lines) == 1 and expected in lines[0], err
    assert not [p for p in out_dir.iterdir() if p.suffix in (".npz", ".part") or ".part" in p.name]


def test_convert_a_deep3d_mat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    coeff = np.random.default_rng(0).normal(size=(5, 257))
    params = np.tile([256.0, 256.0, 1.0, 128.0, 127.0], (5, 1))
    scipy.io.savemat(tmp_path / "v.mat", {"coeff": coeff, "transform_params": params})
    code, out, _ = _run(
        ["extract", str(tmp_path / "v.mat"), "-o", str(tmp_path / "m.npz"), "--fps", "30"], capsys
    )
    assert code == 0 and "5 frames" in out
    motion = Motion.load(tmp_path / "m.npz")
    assert motion.fps == 30.0
    np.testing.assert_allclose(motion.coeffs, load_motion(tmp_path / "v.mat").coeffs)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.mp4", b"", "empty file"),
        ("corrupt.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x13" * 300, "not a readable video"),
        ("thing.xyz", b"hello", "unknown input type"),
        ("broken.png", b"\x89PNG\r\n\x1a\n broken", "not a readable image"),
    ],
)
def test_bad_inputs_fail_in_one_line_without_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, expected: str
) -> None:
    (tmp_path / name).write_bytes(content)
    code, _, err = _run(
        ["extract", str(tmp_path / name), "-o", str(tmp_path / "m.npz"), "--extractor", "synthhead"], capsys
    )
    _assert_clean_failure(code, err, tmp_path, expected)


def test_argument_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_image(tmp_path / "a.png", np.zeros((32, 32, 3), np.uint8))
    code, _, err = _run(
        ["extract", str(tmp_path / "a.png"), "-o", str(tmp_path / "m.npz"), "--extractor", "deep3d"], capsys
    )
    _assert_clean_failure(code, err, tmp_path, "--extractor-checkpoint")
    code, _, err = _run(
        ["extract", str(tmp_path / "a.png"), "-o", str(tmp_path / "m.json"), "--extractor", "synthhead"],
        capsys,
    )
    _assert_clean_failure(code, err, tmp_path, ".npz")
    code, _, err = _run(["extract", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "m.npz")], capsys)
    _assert_clean_failure(code, err, tmp_path, "not found")


@requires_faces
def test_no_face_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    save_image(tmp_path / "noise.png", noise)
    code, _, err = _run(
        ["extract", str(tmp_path / "noise.png"), "-o", str(tmp_path / "m.npz"), "--extractor", "synthhead"],
        capsys,
    )
    _assert_clean_failure(code, err, tmp_path, "no face found")
    code, _, err = _run(["crop", str(tmp_path / "noise.png"), "-o", str(tmp_path / "c.png")], capsys)
    assert code == 1 and not (tmp_path / "c.png").exists() and not (tmp_path / "c.png.crop.json").exists()


@requires_faces
def test_crop_image_and_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], astronaut: np.ndarray
) -> None:
    save_image(tmp_path / "astronaut.png", astronaut)
    code, _, _ = _run(["crop", str(tmp_path / "astronaut.png"), "-o", str(tmp_path / "face.png")], capsys)
    assert code == 0
    assert load_image(tmp_path / "face.png").shape == (256, 256, 3)
    meta = json.loads((tmp_path / "face.png.crop.json").read_text())
    assert meta["size"] == 256 and len(meta["frames"]) == 1 and meta["frames"][0]["source_size"] == [512, 512]

    frames = [np.ascontiguousarray(astronaut[0:320, o : o + 320]) for o in range(60, 120, 10)]
    write_video(tmp_path / "pan.mp4", frames, fps=25, audio=(0.1 * np.sin(np.arange(16000) / 5.0), 16000))
    code, _, _ = _run(
        ["crop", str(tmp_path / "pan.mp4"), "-o", str(tmp_path / "face.mp4"), "--size", "128"], capsys
    )
    assert code == 0
    info = probe_video(tmp_path / "face.mp4")
    assert (info.num_frames, info.width, info.height, info.has_audio) == (6, 128, 128, True)
    from pirender.motion.extract.pipeline import load_crop_json

    crop = load_crop_json(tmp_path / "face.mp4.crop.json")
    assert len(crop) == 6 and crop.centers[0, 0] > crop.centers[-1, 0]  # the face moves left in the pan


@pytest.fixture(scope="module")
def synth_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    from pirender.synth import Identity, SynthHead, neutral_coeffs

    head = SynthHead(Identity.from_seed(1_000_123), 256)
    coeffs = np.tile(neutral_coeffs(), (6, 1))
    coeffs[:, 65] = np.linspace(-0.4, 0.4, 6)  # a head turn (yaw)
    path = tmp_path_factory.mktemp("synth") / "turn.mp4"
    write_video(path, [head.render(c) for c in coeffs], fps=25, audio=(np.zeros(16000), 16000))
    return path, coeffs


def test_extract_synthhead_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], synth_video: tuple[Path, np.ndarray]
) -> None:
    pytest.importorskip("pirender.synth")
    path, coeffs = synth_video
    out = tmp_path / "m.npz"
    code, out_text, _ = _run(
        ["extract", str(path), "-o", str(out), "--extractor", "synthhead", "--no-crop", "--smooth", "none"],
        capsys,
    )
    assert code == 0 and "6 frames" in out_text
    motion = Motion.load(out)
    assert motion.coeffs.shape == (6, 73) and motion.fps == 25.0 and motion.audio_path == str(path)
    assert motion.crop is None and motion.source.startswith("synthhead:")
    yaw = motion.coeffs[:, 65]
    assert np.all(np.diff(yaw) > 0)  # the turn is recovered in order
    assert np.abs(yaw - coeffs[:, 65]).mean() < np.radians(6)


class _Terminal(io.StringIO):
    """stderr as a terminal: where progress bars are shown."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("flags", "bar"),
    [([], True), (["--no-progress"], False), (["-q"], False)],
    ids=["tty", "no-progress", "quiet"],
)
def test_extract_shows_progress_on_a_terminal(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    synth_video: tuple[Path, np.ndarray],
    flags: list[str],
    bar: bool,
) -> None:
    pytest.importorskip("pirender.synth")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out = tmp_path / "m.npz"
    argv = ["extract", str(synth_video[0]), "-o", str(out), "--extractor", "synthhead", "--no-crop", *flags]
    assert main(argv) == 0 and out.is_file()
    shown = terminal.getvalue()
    assert ("extracting motion" in shown and "/6" in shown) is bar, shown


def test_no_progress_bar_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], synth_video: tuple[Path, np.ndarray]
) -> None:
    pytest.importorskip("pirender.synth")
    out = tmp_path / "m.npz"
    code, _, err = _run(
        ["extract", str(synth_video[0]), "-o", str(out), "--extractor", "synthhead", "--no-crop"], capsys
    )
    assert code == 0 and "extracting motion" not in err and "frame/s" not in err


@requires_faces
def test_face_flags_pick_a_face_in_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], astronaut: np.ndarray
) -> None:
    """`crop --face 2` and `--face-at X,Y` cut the smaller of two faces; the source of reenact/edit/speak
    takes the same flags (prepare_source); bad combinations are one-line errors."""
    from PIL import Image

    from pirender.motion.faces import FaceSelect
    from pirender.pipelines.source import prepare_source

    face = astronaut[20:260, 110:350]
    photo = np.full((400, 900, 3), 200, np.uint8)
    photo[40:340, 20:320] = np.asarray(Image.fromarray(face).resize((300, 300)))
    photo[130:310, 640:820] = np.asarray(Image.fromarray(face).resize((180, 180)))
    save_image(tmp_path / "two.png", photo)
    for flags in (["--face", "2"], ["--face-at", "730,220"]):
        out = tmp_path / f"small{flags[0]}.png"
        code, _, err = _run(["crop", str(tmp_path / "two.png"), "-o", str(out), *flags], capsys)
        assert code == 0, err
        meta = json.loads((tmp_path / f"{out.name}.crop.json").read_text())
        assert 640 < meta["frames"][0]["center"][0] < 820, meta
    prepared = prepare_source(tmp_path / "two.png", size=64, crop=FaceSelect(index=2))
    assert prepared.transform is not None and 640 < prepared.transform.center_x < 820
    source = ["--source", str(tmp_path / "two.png")]
    for argv, message in [
        (["crop", str(tmp_path / "two.png"), "-o", str(tmp_path / "c.png"), "--face", "3"], "face 3 asked for, 2 found"),
        (["crop", str(tmp_path / "two.png"), "-o", str(tmp_path / "c.png"), "--face-at", "here"], "X,Y"),
        (["crop", str(tmp_path / "two.png"), "-o", str(tmp_path / "c.png"), "--face", "0"], "1 or more"),
        (["edit", *source, "--face", "1", "--face-at", "1,2", "-o", str(tmp_path / "c.png")], "not both"),
        (["edit", *source, "--face", "2", "--crop", "never", "-o", str(tmp_path / "c.png")], "--crop never"),
    ]:  # fmt: skip
        code, _, err = _run(argv, capsys)
        _assert_clean_failure(code, err, tmp_path, message)
        assert not (tmp_path / "c.png").exists()


@requires_faces
def test_no_face_in_a_source_names_the_file(tmp_path: Path) -> None:
    from pirender.errors import InputError
    from pirender.pipelines.source import prepare_source

    wall = np.broadcast_to(np.linspace(60, 200, 300).astype(np.uint8)[None, :, None], (200, 300, 3))
    save_image(tmp_path / "wall.png", np.ascontiguousarray(wall))
    with pytest.raises(InputError, match=r"^source wall\.png: no face found$"):
        prepare_source(tmp_path / "wall.png", size=64)
