"""load_audio: WAV/FLAC via soundfile, a video's audio track via PyAV, resampling, one-line errors."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from pirender.audio import load_audio
from pirender.errors import InputError


def _tone(sr: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(samples: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / sr)[spectrum.argmax()])


def _write_video(path: Path, *, audio: np.ndarray | None, sr: int = 16000, frames: int = 10) -> None:
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width = video.height = 32
        video.pix_fmt = "yuv420p"
        stream = container.add_stream("aac", rate=sr) if audio is not None else None
        if stream is not None:
            stream.layout = "mono"
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        if stream is not None:
            audio_frame = av.AudioFrame.from_ndarray(audio[None], format="flt", layout="mono")
            audio_frame.sample_rate = sr
            for packet in list(stream.encode(audio_frame)) + list(stream.encode(None)):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_wav_and_flac_are_resampled_to_16k_mono(tmp_path: Path, suffix: str) -> None:
    stereo = np.stack([_tone(22050, 1.0), _tone(22050, 1.0)], axis=1)
    path = tmp_path / f"speech{suffix}"
    soundfile.write(str(path), stereo, 22050)
    samples, sr = load_audio(path)
    assert sr == 16000 and samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - 16000) <= 1
    assert abs(_peak_hz(samples, sr) - 440.0) < 3.0
    assert abs(np.abs(samples).max() - 0.3) < 0.02


def test_audio_track_of_a_video(tmp_path: Path) -> None:
    path = tmp_path / "talk.mp4"
    _write_video(path, audio=_tone(16000, 1.0, 300.0))
    samples, sr = load_audio(path)
    assert sr == 16000
    assert 16000 <= len(samples) <= 16000 + 2048  # AAC adds up to two frames of priming/padding
    assert abs(_peak_hz(samples, sr) - 300.0) < 3.0


def test_video_without_audio_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    _write_video(path, audio=None)
    with pytest.raises(InputError, match="no audio track") as info:
        load_audio(path)
    assert "silent.mp4" in str(info.value)


def test_missing_and_garbage_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nothere.wav"):
        load_audio(tmp_path / "nothere.wav")
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(InputError, match="garbage.mp3"):
        load_audio(garbage)
