"""Read speech from any audio file or from a video's audio track, as 16 kHz mono float32.

soundfile (libsndfile) reads WAV, FLAC, OGG and MP3 directly; everything else (MP4/MOV/MKV/WEBM audio
tracks, M4A/AAC, ...) goes through PyAV's bundled FFmpeg. Both paths end in the same resampler, so
the samples a model sees do not depend on the container.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from pirender.errors import InputError

SAMPLE_RATE = 16000  # every audio model in pirender works at 16 kHz mono


def load_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, int]:
    """Decode an audio file or a video's audio track, mixed to mono and resampled.

    Args:
        path: WAV/FLAC/OGG/MP3/M4A file, or a video (MP4, MOV, MKV, WEBM ...) with an audio track.
        sample_rate: output rate in Hz.
    Returns:
        (samples, sample_rate): samples (N,) float32 in about [-1, 1].
    Raises:
        InputError: the file is missing, unreadable, has no audio track or no samples.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"audio file not found: {path}")
    if not path.is_file():
        raise InputError(f"audio path is not a file: {path}")
    samples, rate = _read_soundfile(path)
    if samples is None:
        samples, rate = _read_pyav(path)
    if samples.size == 0:
        raise InputError(f"no audio samples in {path}")
    if not np.all(np.isfinite(samples)):
        raise InputError(f"audio in {path} contains NaN or infinite samples")
    return resample(samples, rate, sample_rate), sample_rate


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling (scipy), (N,) float -> (round(N * target_rate / rate),) float32."""
    samples = np.asarray(samples, dtype=np.float32)
    if rate == target_rate:
        return samples
    from scipy.signal import resample_poly

    g = math.gcd(int(rate), int(target_rate))
    return resample_poly(samples, target_rate // g, rate // g).astype(np.float32)


def _read_soundfile(path: Path) -> tuple[np.ndarray | None, int]:
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        return None, 0  # not a format libsndfile knows: let FFmpeg try
    return data.mean(axis=1).astype(np.float32), int(rate)


def _read_pyav(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:
        raise InputError(f"cannot read audio from {path}: {e}") from e
    with container:
        if not container.streams.audio:
            raise InputError(f"{path} has no audio track")
        stream = container.streams.audio[0]
        # Convert to planar-free float mono at the source rate; scipy does the rate change so that
        # both decoding paths resample identically.
        rate = stream.codec_context.sample_rate or stream.rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as e:
            raise InputError(f"cannot decode the audio track of {path}: {e}") from e
    if not chunks:
        raise InputError(f"no audio samples in {path}")
    return np.concatenate(chunks).astype(np.float32), int(rate)
