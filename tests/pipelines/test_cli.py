"""The `pirender reenact | edit | speak` commands.

Every bad input must exit non-zero with one line on stderr, no traceback, and leave no output file.
Each case runs through the CLI entry point in-process (`pirender.cli.main.main`, the same code as the
installed command), and a representative subset plus a successful run as real `python -m
pirender.cli.main` subprocesses, started together: each pays the ~3 s torch import, so running every
case as a process would cost most of this suite's time budget on a shared 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from pirender.media.image import load_image, save_image

from .conftest import NUM_FRAMES, SIZE, make_coeffs


def _npz(path: Path, coeffs: np.ndarray) -> Path:
    # written with numpy directly: Motion() itself refuses these arrays
    np.savez(path, format_version=np.array(1), coeffs=coeffs, fps=np.array(12.5))
    return path


def _cases(assets: dict[str, Path], tmp: Path) -> dict[str, tuple[list[str], Path]]:
    """name -> (argv after `pirender`, the output path that must not appear)."""
    garbage = tmp / "garbage.png"
    garbage.write_bytes(b"this is not a png")
    nan = make_coeffs(4, 0)
    nan[2, 5] = np.nan
    inf_source = make_coeffs(1, 0)
    inf_source[0, 66] = np.inf
    files = {
        "narrow": _npz(tmp / "narrow.npz", make_coeffs(4, 0)[:, :70]),
        "nan": _npz(tmp / "nan.npz", nan),
        "empty": _npz(tmp / "empty.npz", np.zeros((0, 73), np.float32)),
        "inf": _npz(tmp / "inf.npz", inf_source),
    }
    renderer, own = str(assets["renderer"]), str(assets["source_coeffs"])
    save_image(tmp / "dot.png", np.full((1, 1, 3), 128, np.uint8))
    save_image(tmp / "blank.png", np.full((SIZE, SIZE, 3), 200, np.uint8))
    (tmp / "random.pt").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())

    def reenact(
        name: str,
        source: Path = assets["source"],
        driving: Path = assets["driving"],
        *,
        output: Path | None = None,
        model: str = renderer,
        coeffs: str = own,
        extra: tuple[str, ...] = (),
    ) -> tuple[list[str], Path]:
        output = output or tmp / f"{name}.mp4"
        argv = ["reenact", "--source", str(source), "--driving", str(driving), "-o", str(output)]
        return [*argv, "--renderer", model, "--source-coeffs", coeffs, *extra], output

    def edit(name: str, *extra: str) -> tuple[list[str], Path]:
        output = tmp / f"{name}.png"
        argv = ["edit", "--source", str(assets["source"]), "-o", str(output), "--renderer", renderer]
        return [*argv, "--source-coeffs", own, *extra], output

    speech_out = tmp / "speak.mp4"
    return {
        "missing source": reenact("missing", tmp / "nope.png"),
        "unreadable image": reenact("garbage", garbage),
        "wrong width": reenact("narrow", driving=files["narrow"]),
        "nan coefficients": reenact("nan", driving=files["nan"]),
        "inf source coefficients": reenact("inf", coeffs=str(files["inf"])),
        "zero frames": reenact("empty", driving=files["empty"]),
        "unwritable output": reenact("nodir", output=tmp / "no_such_dir" / "o.mp4"),
        "missing renderer": reenact("norenderer", model=str(tmp / "no_model")),
        "zero workers": reenact("noworkers", extra=("--workers", "0")),
        "workers on onnx": reenact("onnxworkers", extra=("--workers", "2", "--backend", "onnx")),
        "1x1 source": reenact("dot", tmp / "dot.png"),
        "single-colour source": reenact("blank", tmp / "blank.png"),
        "random-bytes renderer": reenact("randompt", model=str(tmp / "random.pt")),
        "edit inf yaw": edit("yaw", "--yaw", "inf"),
        "edit bad exp index": edit("exp", "--exp", "99=1"),
        "edit unknown preset": edit("preset", "--preset", "no_such_preset"),
        "speak missing audio": (
            [
                "speak",
                "--source",
                str(assets["source"]),
                "--audio",
                str(tmp / "none.wav"),
                "-o",
                str(speech_out),
            ],
            speech_out,
        ),
    }


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("PIRENDER_DEBUG", None)
    return env


def _start(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pirender.cli.main", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


@pytest.fixture(scope="module")
def runs(assets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    tmp = tmp_path_factory.mktemp("cli")
    cases = _cases(assets, tmp)
    good_video, good_image = tmp / "good.mp4", tmp / "good.png"
    cases["ok reenact"] = (
        [
            "reenact",
            "--source",
            str(assets["source"]),
            "--driving",
            str(assets["driving"]),
            "-o",
            str(good_video),
            "--renderer",
            str(assets["renderer"]),
            "--source-coeffs",
            str(assets["source_coeffs"]),
            "-q",
        ],
        good_video,
    )
    cases["ok edit"] = (
        [
            "edit",
            "--source",
            str(assets["source"]),
            "-o",
            str(good_image),
            "--yaw",
            "15",
            "--preset",
            "smile",
            "--renderer",
            str(assets["renderer"]),
            "--source-coeffs",
            str(assets["source_coeffs"]),
            "-q",
        ],
        good_image,
    )
    processes = {name: _start(argv) for name, (argv, _) in cases.items() if name in SUBPROCESS_CASES}
    results: dict[str, tuple] = {"cases": cases}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        results[name] = (process.returncode, stdout, stderr, cases[name][1])
    return results


SUBPROCESS_CASES = ("nan coefficients", "edit inf yaw", "ok reenact")


ERROR_CASES = [
    ("missing source", "source not found"),
    ("unreadable image", "not a readable image"),
    ("wrong width", "(T, 73)"),
    ("nan coefficients", "NaN"),
    ("inf source coefficients", "NaN or infinite"),
    ("zero frames", "0 frames"),
    ("unwritable output", "does not exist"),
    ("missing renderer", "renderer not found"),
    ("zero workers", "workers must be >= 1"),
    ("workers on onnx", "torch backend on CPU"),
    ("1x1 source", "1x1 is too small for a face"),
    ("single-colour source", "single colour"),
    ("random-bytes renderer", "not a PyTorch PIRender checkpoint (4,096 bytes"),
    ("edit inf yaw", "finite"),
    ("edit bad exp index", "outside 0..63"),
    ("edit unknown preset", "unknown preset"),
    ("speak missing audio", "audio file not found"),
]


def _check_error(returncode: int, stderr: str, output: Path, message: str) -> None:
    assert returncode == 1, (returncode, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert lines[0].startswith("pirender ") and "error:" in lines[0] and message in lines[0], lines[0]
    assert not output.exists()
    if output.parent.exists():
        assert not list(output.parent.glob(f".{output.name}*"))  # no temporary file either


@pytest.mark.parametrize(("name", "message"), ERROR_CASES)
def test_bad_input_one_line_no_output(
    runs: dict[str, tuple], name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pirender.cli.main import main

    argv, output = runs["cases"][name]
    returncode = main(argv)
    _check_error(returncode, capsys.readouterr().err, output, message)


@pytest.mark.parametrize(("name", "message"), [c for c in ERROR_CASES if c[0] in SUBPROCESS_CASES])
def test_bad_input_subprocess(runs: dict[str, tuple], name: str, message: str) -> None:
    returncode, _, stderr, output = runs[name]
    _check_error(returncode, stderr, output, message)


def test_reenact_command_writes_video(runs: dict[str, tuple]) -> None:
    returncode, _, stderr, video = runs["ok reenact"]
    assert returncode == 0, stderr
    with av.open(str(video)) as container:
        assert len(container.streams.audio) == 1  # the motion file's audio
        assert sum(1 for _ in container.decode(video=0)) == NUM_FRAMES


def test_reenact_with_frame_workers(runs: dict[str, tuple], tmp_path: Path) -> None:
    """--workers 2 renders the frames of each batch in parallel; same video, frame for frame."""
    from pirender.cli.main import main

    argv, _ = runs["cases"]["ok reenact"]
    output = tmp_path / "workers.mp4"
    assert (
        main([*argv[: argv.index("-o") + 1], str(output), *argv[argv.index("-o") + 2 :], "--workers", "2"])
        == 0
    )
    with av.open(str(output)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(runs["ok reenact"][3])) as container:
        expected = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == len(expected) == NUM_FRAMES
    # fp32 differences of <= 5e-5 before encoding; H.264 of near-identical inputs stays near-identical
    assert (
        max(np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, expected, strict=True)) < 0.5
    )


def test_edit_command_writes_image(runs: dict[str, tuple]) -> None:
    from pirender.cli.main import main

    argv, image = runs["cases"]["ok edit"]
    assert main(argv) == 0
    assert load_image(image).shape == (SIZE, SIZE, 3)


def test_save_preset_from_motion_then_use_it(
    assets: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pirender.cli.main import main
    from pirender.motion.sequence import Motion
    from pirender.pipelines.edits import PRESET_DIR_ENV, load_preset

    monkeypatch.setenv(PRESET_DIR_ENV, str(tmp_path / "presets"))
    reference = make_coeffs(2, 21)
    Motion(coeffs=reference).save(tmp_path / "ref.npz")
    assert main(["edit", "--expression-from", str(tmp_path / "ref.npz"), "--save-preset", "mine", "-q"]) == 0
    np.testing.assert_allclose(load_preset("mine").exp, reference[0, :64], atol=1e-6)
    output = tmp_path / "with_mine.png"
    argv = ["edit", "--source", str(assets["source"]), "--preset", "mine", "-o", str(output), "-q"]
    assert (
        main([*argv, "--renderer", str(assets["renderer"]), "--source-coeffs", str(assets["source_coeffs"])])
        == 0
    )
    assert output.is_file()


@pytest.mark.parametrize(
    ("device", "message"),
    [("tpu", "device must be one of"), ("cuda", "no CUDA device"), ("mps", "MPS is not available")],
)
def test_unavailable_device_is_a_clean_error(
    assets: dict[str, Path], tmp_path: Path, device: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from pirender.cli.main import main

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    output = tmp_path / "o.mp4"
    argv = [
        "reenact",
        "--source",
        str(assets["source"]),
        "--driving",
        str(assets["driving"]),
        "-o",
        str(output),
    ]
    returncode = main([*argv, "--renderer", str(assets["renderer"]), "--device", device])
    _check_error(returncode, capsys.readouterr().err, output, message)


def test_a_missing_motion_audio_is_one_warning_line(
    assets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pirender.cli.main import main
    from pirender.motion.sequence import Motion

    Motion(coeffs=make_coeffs(NUM_FRAMES, 3), fps=12.5, audio_path=str(tmp_path / "gone.wav")).save(
        tmp_path / "m.npz"
    )
    out = tmp_path / "out.mp4"
    argv = ["reenact", "--source", str(assets["source"]), "--driving", str(tmp_path / "m.npz"),
            "--renderer", str(assets["renderer"]), "--source-coeffs", str(assets["source_coeffs"]),
            "-o", str(out), "-q"]  # fmt: skip
    assert main(argv) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == [
        f"pirender reenact: warning: the motion's audio file {tmp_path / 'gone.wav'} is missing; no audio"
    ]
    with av.open(str(out)) as container:
        assert not container.streams.audio and container.streams.video[0].frames == NUM_FRAMES
