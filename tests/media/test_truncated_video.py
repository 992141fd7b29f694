"""A video cut short after its header (moov first, as phones and `-movflags +faststart` write it) is read
as far as it goes, with a warning that gives both counts; `--strict` makes it a one-line error."""

from __future__ import annotations

import warnings
from pathlib import Path

import av
import numpy as np
import pytest

from pirender.cli.main import main
from pirender.errors import InputError
from pirender.media.video import TruncatedVideoWarning, iter_video_frames, probe_video


def _truncated_video(path: Path, frames: list[np.ndarray], keep: float = 0.45) -> Path:
    """An H.264 MP4 with its header first, then cut to `keep` of its bytes."""
    full = path.with_name("full_" + path.name)
    with av.open(str(full), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    full.unlink()
    return path


def _noise(n: int, size: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def test_a_truncated_video_warns_with_both_counts(tmp_path: Path) -> None:
    video = _truncated_video(tmp_path / "cut.mp4", _noise(100))
    assert probe_video(video).num_frames == 100  # the header still says 100
    with pytest.warns(TruncatedVideoWarning, match=r"cut\.mp4: the video ends after (\d+) of the 100 frames"):
        count = sum(1 for _ in iter_video_frames(video))
    assert 10 < count < 90


def test_strict_makes_it_an_input_error(tmp_path: Path) -> None:
    video = _truncated_video(tmp_path / "cut.mp4", _noise(100))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncatedVideoWarning)
        with pytest.raises(InputError, match="frames its header declares"):
            list(iter_video_frames(video))


def test_a_whole_video_does_not_warn(tmp_path: Path) -> None:
    video = _truncated_video(tmp_path / "whole.mp4", _noise(30), keep=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sum(1 for _ in iter_video_frames(video)) == 30


def test_extract_notes_it_once_and_strict_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pirender.synth import Identity, SynthHead, random_motion

    head, motion = SynthHead(Identity.from_seed(5), 64), random_motion(5, 60, 25.0)
    video = _truncated_video(tmp_path / "talk.mp4", [head.render(c) for c in motion])
    out = tmp_path / "m.npz"
    assert main(["extract", str(video), "-o", str(out), "--extractor", "synthhead", "--no-crop"]) == 0
    err = capsys.readouterr().err
    assert err.count("frames its header declares") == 1 and "of the 60 frames" in err
    from pirender.motion import load_motion

    assert 0 < load_motion(out).num_frames < 60
    out.unlink()
    assert (
        main(["extract", str(video), "-o", str(out), "--extractor", "synthhead", "--no-crop", "--strict"])
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pirender extract: error: ") and "of the 60 frames" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.mp4"]
