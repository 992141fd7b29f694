"""probe_video / iter_video_frames / VideoWriter: round trips, audio muxing, atomic failure."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from pirender.errors import InputError
from pirender.media.video import VideoWriter, iter_video_frames, probe_video, write_video


def _frames(n: int = 12, h: int = 64, w: int = 48) -> list[np.ndarray]:
    y, x = np.mgrid[0:h, 0:w]
    return [
        np.stack([x * 4 + i * 8, y * 3, np.full_like(x, 128)], -1).clip(0, 255).astype(np.uint8)
        for i in range(n)
    ]


def _decoded_audio(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        data = np.concatenate([f.to_ndarray() for f in container.decode(stream)], axis=1)
        return data[0], stream.rate


def test_round_trip_frames_and_probe(tmp_path: Path) -> None:
    frames = _frames()
    out = tmp_path / "v.mp4"
    assert write_video(out, frames, fps=25) == 12
    info = probe_video(out)
    assert (info.num_frames, info.fps, info.width, info.height, info.has_audio) == (12, 25.0, 48, 64, False)
    decoded = list(iter_video_frames(out))
    assert len(decoded) == 12
    for a, b in zip(decoded, frames, strict=True):
        assert a.shape == (64, 48, 3) and a.dtype == np.uint8
        assert np.abs(a.astype(int) - b).mean() < 3.0  # crf 18 + yuv420p: close, not exact
    with av.open(str(out)) as container:
        ctx = container.streams.video[0].codec_context
        assert ctx.name == "h264" and ctx.pix_fmt == "yuv420p"


def test_audio_from_array_and_from_file(tmp_path: Path) -> None:
    sr = 16000
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)
    with VideoWriter(tmp_path / "a.mp4", fps=25, size=(48, 64), audio=(tone, sr)) as writer:
        for frame in _frames(25):  # 1 s of video: the 2 s tone is cut to 1 s
            writer.write(frame)
    assert probe_video(tmp_path / "a.mp4").has_audio
    samples, rate = _decoded_audio(tmp_path / "a.mp4")
    assert rate == sr and 0.9 * sr < len(samples) < 1.2 * sr
    spectrum = np.abs(np.fft.rfft(samples[:sr]))
    assert abs(spectrum.argmax() * sr / sr - 440) < 3

    soundfile.write(tmp_path / "tone.wav", tone, sr)
    write_video(tmp_path / "b.mp4", _frames(10), fps=25, audio=tmp_path / "tone.wav")
    samples, _ = _decoded_audio(tmp_path / "b.mp4")
    assert 0.35 * sr < len(samples) < 0.55 * sr


def test_error_inside_block_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "fail.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, fps=25) as writer:
            writer.write(_frames(1)[0])
            raise RuntimeError("boom")
    with pytest.raises(ValueError):
        with VideoWriter(out, fps=25) as writer:
            writer.write(_frames(1)[0])
            writer.write(np.zeros((10, 10, 3), np.uint8))  # wrong size
    assert list(tmp_path.iterdir()) == []


def test_odd_size_is_padded_to_even(tmp_path: Path) -> None:
    write_video(tmp_path / "o.mp4", [np.full((33, 21, 3), 90, np.uint8)] * 3, fps=10)
    info = probe_video(tmp_path / "o.mp4")
    assert (info.width, info.height, info.num_frames) == (22, 34, 3)


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x18ftypmp42garbage" * 10])
def test_empty_or_corrupt_video_is_one_line_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    for call in (lambda: probe_video(path), lambda: list(iter_video_frames(path))):
        with pytest.raises(InputError) as info:
            call()
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_video(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        probe_video(tmp_path / "nope.mp4")
