"""Log-mel features with torch alone, and their alignment to motion frames.

Speech at 16 kHz -> 80 mel bands every 10 ms (25 ms Hann window), the front end most speech-driven
face models use. Motion frame t covers [t/fps, (t+1)/fps); its audio context is the window of
2c+1 mel frames centred on the frame's mid-time (t + 0.5)/fps. Outside the audio the window sees
silence (the log floor), so the first and last frames look the same in training and at inference.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from pirender.errors import InputError
from pirender.media.audio import SAMPLE_RATE, resample

N_FFT = 400  # 25 ms window at 16 kHz
HOP = 160  # 10 ms hop -> 100 mel frames per second
N_MELS = 80
F_MIN = 20.0
F_MAX = 7600.0
LOG_FLOOR = 1e-5  # power floor before the log: silence is log(1e-5) ~ -11.5
MEL_RATE = SAMPLE_RATE / HOP  # mel frames per second


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)  # HTK mel scale


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@functools.lru_cache(maxsize=4)
def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Triangular HTK-mel filters, (n_fft // 2 + 1, n_mels) float32, each filter of unit area."""
    fft_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(F_MIN)), _hz_to_mel(np.array(F_MAX)), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (n_mels, 1)
    rising = (fft_hz[None] - lower) / (centre - lower)
    falling = (upper - fft_hz[None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (n_mels, n_freq)
    weights *= 2.0 / (upper - lower)  # Slaney-style area normalisation: loudness independent of band width
    return torch.from_numpy(weights.T.astype(np.float32))


def log_mel(samples: np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Log-mel spectrogram of mono speech.

    Args:
        samples: (N,) float mono audio; resampled to 16 kHz first when sample_rate differs.
        sample_rate: rate of `samples` in Hz.
    Returns:
        (M, 80) float32 natural-log mel power, M = N // 160 + 1 frames at 100 per second;
        frame i is centred on sample i * 160.
    """
    if sample_rate != SAMPLE_RATE:
        samples = resample(torch.as_tensor(samples).numpy(), sample_rate, SAMPLE_RATE)
    audio = torch.as_tensor(samples, dtype=torch.float32)
    if audio.ndim != 1:
        raise InputError(f"expected mono samples (N,), got shape {tuple(audio.shape)}")
    if audio.numel() < N_FFT // 2 + 1:  # reflect padding needs a little audio; pad very short clips
        audio = torch.nn.functional.pad(audio, (0, N_FFT // 2 + 1 - audio.numel()))
    spec = torch.stft(
        audio,
        n_fft=N_FFT,
        hop_length=HOP,
        window=torch.hann_window(N_FFT),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )  # (n_freq, M)
    power = spec.real.square() + spec.imag.square()
    mel = power.T @ mel_filterbank()  # (M, n_mels)
    return torch.log(mel.clamp_min(LOG_FLOOR))


def num_motion_frames(num_samples: int, fps: float, sample_rate: int = SAMPLE_RATE) -> int:
    """Motion frames that cover the audio: round(duration * fps), at least 1."""
    return max(1, int(round(num_samples / sample_rate * fps)))


def pad_silence(mel: torch.Tensor, context: int) -> torch.Tensor:
    """(M, n_mels) -> (M + 2(c+1), n_mels): c+1 silent frames (log LOG_FLOOR) on both ends.

    One more than the window radius, so every index past the audio lands on silence.
    """
    silence = torch.full((context + 1, mel.shape[1]), math.log(LOG_FLOOR), dtype=mel.dtype)
    return torch.cat([silence, mel, silence])


def window_index(frames: torch.Tensor, fps: float, context: int, num_padded: int) -> torch.Tensor:
    """Rows of the silence-padded mel (pad_silence) in the audio window of each motion frame.

    Args:
        frames: (...) int motion frame indices at `fps` (may be negative or past the end).
        fps: motion frame rate.
        context: c; the window holds 2c+1 mel frames, 10 ms apart, centred on the frame mid-time.
        num_padded: rows of the padded mel (indices are clamped into it: outside is silence).
    Returns:
        (..., 2c+1) int64 row indices.
    """
    centre = torch.round((frames.to(torch.float64) + 0.5) * (MEL_RATE / fps)).long()
    index = centre[..., None] + torch.arange(-context, context + 1) + context + 1
    return index.clamp(0, num_padded - 1)


def frame_mel_windows(mel: torch.Tensor, num_frames: int, fps: float, context: int) -> torch.Tensor:
    """Audio context of every motion frame, materialised (the model gathers these rows itself).

    Args:
        mel: (M, n_mels) log-mel of one clip (from log_mel).
        num_frames: T motion frames at `fps`.
        fps: motion frame rate.
        context: c; each window holds 2c+1 mel frames.
    Returns:
        (T, 2c+1, n_mels) float32; mel frames outside the clip are silence (log LOG_FLOOR).
    """
    padded = pad_silence(mel, context)
    return padded[window_index(torch.arange(num_frames), fps, context, padded.shape[0])]
