"""Log-mel front end and the frame <-> mel alignment."""

from __future__ import annotations

import math

import numpy as np
import torch

from pirender.audio import log_mel
from pirender.audio.features import HOP, LOG_FLOOR, N_MELS, frame_mel_windows, mel_filterbank


def test_shape_and_tone_lands_in_its_band() -> None:
    sr = 16000
    t = np.arange(sr) / sr
    mel = log_mel((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), sr)
    assert mel.shape == (sr // HOP + 1, N_MELS) and mel.dtype == torch.float32
    peak_band = int(mel[10:-10].mean(0).argmax())
    weights = mel_filterbank()  # (n_freq, n_mels)
    freqs = np.linspace(0, sr / 2, weights.shape[0])
    centre_hz = float(freqs[int(weights[:, peak_band].argmax())])
    assert abs(centre_hz - 1000) < 100


def test_other_rates_are_resampled_first() -> None:
    t = np.arange(8000) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    at_8k = log_mel(tone, 8000)
    assert at_8k.shape == (16000 // HOP + 1, N_MELS)


def test_silence_is_the_log_floor_and_windows_are_centred() -> None:
    sr, fps = 16000, 25.0
    audio = np.zeros(sr, dtype=np.float32)
    audio[8000:8160] = 1.0  # a click at 0.5 s = mel frame 50, inside motion frame 12 (0.48-0.52 s)
    mel = log_mel(audio, sr)
    assert math.isclose(float(mel[0].max()), math.log(LOG_FLOOR), rel_tol=1e-6)
    windows = frame_mel_windows(mel, 25, fps, context=3)  # (T, 7, n_mels)
    assert windows.shape == (25, 7, N_MELS)
    loudness = windows[:, 3].mean(-1)  # the centre mel frame of each motion frame
    assert int(loudness.argmax()) == 12
    # before the audio starts and after it ends, windows hold silence
    late = frame_mel_windows(mel, 40, fps, context=3)
    assert torch.all(late[-1] == math.log(LOG_FLOOR))
