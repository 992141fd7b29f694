"""Speech-like audio and talking clips whose mouth follows it.

The audio is a source-filter synthesis: a glottal pulse train (F0 with jitter and phrase
declination) through three formant resonators per syllable (vowels a/e/i/o/u), shaped by syllable
envelopes, with fricative noise at some onsets, words and pauses. 16 kHz mono float32, peak 0.5.

The mouth relation is exact and documented: for every syllable with vowel v and envelope e(t) in
[0, 1] (a sine-shaped rise and fall over the syllable),

    mouth(t) = OPENNESS[v] * loudness * e(t),    mouth_open[k] = mouth((k + 0.5) / fps)

and the voiced audio amplitude is loudness * e(t) too, so the per-frame RMS of the audio tracks
mouth_open (up to the vowel's openness and the unvoiced onsets). In a talking clip jaw_open is
mouth_open, rounded vowels (o, u) add pucker and spread vowels (i, e) add lip_stretch, while head
pose, blinks and the rest come from an independent random stream: audio does not determine pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from pirender.errors import InputError
from pirender.synth.expression import EXPRESSION_CONTROLS
from pirender.synth.motion import random_motion, smooth_noise

SAMPLE_RATE = 16000
# vowel: (F1, F2, F3 Hz, mouth openness, lip rounding, lip spreading)
VOWELS: dict[str, tuple[float, float, float, float, float, float]] = {
    "a": (750.0, 1200.0, 2600.0, 1.0, 0.0, 0.0),
    "e": (500.0, 1850.0, 2600.0, 0.6, 0.0, 0.5),
    "i": (300.0, 2250.0, 3000.0, 0.35, 0.0, 0.9),
    "o": (520.0, 880.0, 2500.0, 0.7, 0.7, 0.0),
    "u": (320.0, 850.0, 2300.0, 0.4, 1.0, 0.0),
}


@dataclass(frozen=True)
class TalkingClip:
    """A talking video's motion and audio.

    motion: (T, 73) float32 coefficients; exp slot jaw_open equals mouth_open.
    audio: (N,) float32 samples in [-1, 1] at sample_rate, N = round(T / fps * sample_rate).
    sample_rate: 16000.
    mouth_open: (T,) float32 in [0, 1], the mouth opening at each frame centre.
    fps: frame rate of motion.
    """

    motion: np.ndarray
    audio: np.ndarray
    sample_rate: int
    mouth_open: np.ndarray
    fps: float = 25.0


@dataclass(frozen=True)
class _Syllable:
    start: float  # seconds
    duration: float
    vowel: str
    loudness: float
    fricative: bool


def _schedule(rng: np.random.Generator, duration: float) -> list[_Syllable]:
    """Words of 1-3 syllables, short gaps between words, longer pauses between phrases."""
    syllables: list[_Syllable] = []
    t = rng.uniform(0.05, 0.4)
    words_left = int(rng.integers(2, 7))
    while t < duration:
        for _ in range(int(rng.integers(1, 4))):
            length = rng.uniform(0.12, 0.28)
            vowel = "aeiou"[int(rng.choice(5, p=[0.3, 0.25, 0.2, 0.15, 0.1]))]
            syllables.append(_Syllable(t, length, vowel, rng.uniform(0.6, 1.0), bool(rng.uniform() < 0.35)))
            t += length + rng.uniform(0.0, 0.04)
        words_left -= 1
        if words_left == 0:
            t += rng.uniform(0.3, 0.8)  # phrase pause
            words_left = int(rng.integers(2, 7))
        else:
            t += rng.uniform(0.04, 0.14)
    return syllables


def _envelope(times: np.ndarray, syllable: _Syllable) -> np.ndarray:
    phase = (times - syllable.start) / syllable.duration
    inside = (phase > 0) & (phase < 1)
    return np.where(inside, np.sin(np.pi * np.clip(phase, 0, 1)) ** 0.7, 0.0)


def _resonator(signal: np.ndarray, freq: float, bandwidth: float, sr: int) -> np.ndarray:
    """Two-pole resonance at `freq` Hz with unit gain at DC (Klatt's formant filter)."""
    r = np.exp(-np.pi * bandwidth / sr)
    a1, a2 = -2 * r * np.cos(2 * np.pi * freq / sr), r * r
    return lfilter([1 + a1 + a2], [1, a1, a2], signal)


def synth_speech(
    seed: int, duration: float, sample_rate: int = SAMPLE_RATE
) -> tuple[np.ndarray, list[_Syllable]]:
    """(N,) float32 speech-like audio of `duration` seconds and its syllable schedule."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xA0D10]))
    num = int(round(duration * sample_rate))
    times = np.arange(num) / sample_rate
    syllables = _schedule(rng, duration)
    # Glottal source: F0 with slow wander and jitter, a sawtooth-like pulse, tilted by a one-pole low-pass.
    control_times = np.arange(int(duration * 100) + 2) / 100.0  # F0 wander at 100 Hz, interpolated
    wander = np.interp(times, control_times, smooth_noise(rng, control_times.size, 25.0))
    f0 = rng.uniform(95.0, 220.0) * (1.0 + 0.06 * wander)
    f0 *= 1.0 - 0.1 * ((times % 2.5) / 2.5)  # declination within a phrase
    phase = np.cumsum(f0 / sample_rate)
    pulse = (1.0 - 2.0 * (phase % 1.0)) ** 3
    source = lfilter([1.0], [1.0, -0.6], pulse)
    out = np.zeros(num)
    speaker = rng.uniform(0.92, 1.1)  # vocal tract length: scales all formants
    for syl in syllables:
        lo = max(0, int((syl.start - 0.02) * sample_rate))
        hi = min(num, int((syl.start + syl.duration + 0.02) * sample_rate))
        if hi <= lo:
            continue
        f1, f2, f3 = (f * speaker for f in VOWELS[syl.vowel][:3])
        seg = source[lo:hi]
        voiced = _resonator(seg, f1, 80, sample_rate) + 0.6 * _resonator(seg, f2, 100, sample_rate)
        voiced += 0.25 * _resonator(seg, f3, 150, sample_rate)
        out[lo:hi] += voiced * syl.loudness * _envelope(times[lo:hi], syl)
    for syl in syllables:  # an /s/-like burst just before some vowels
        if not syl.fricative:
            continue
        lo = max(0, int((syl.start - 0.06) * sample_rate))
        hi = min(num, int(syl.start * sample_rate) + 1)
        if hi - lo < 8:
            continue
        noise = rng.standard_normal(hi - lo)
        hiss = noise - lfilter([1.0], [1.0, -0.7], noise) * 0.7  # crude high-pass
        ramp = np.sin(np.linspace(0, np.pi, hi - lo))
        out[lo:hi] += 0.05 * hiss * ramp
    peak = float(np.abs(out).max())
    if peak > 0:
        out *= 0.5 / peak
    return out.astype(np.float32), syllables


def mouth_track(syllables: list[_Syllable], times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mouth opening, lip rounding and lip spreading (each (len(times),) in [0, 1]) at `times` seconds."""
    opening = np.zeros(times.shape)
    rounding = np.zeros(times.shape)
    spreading = np.zeros(times.shape)
    for syl in syllables:
        env = syl.loudness * _envelope(times, syl)
        _, _, _, openness, rnd, spr = VOWELS[syl.vowel]
        opening = np.maximum(opening, openness * env)
        rounding = np.maximum(rounding, rnd * env)
        spreading = np.maximum(spreading, spr * env)
    return opening, rounding, spreading


def talking_clip(seed: int, num_frames: int, fps: float = 25.0) -> TalkingClip:
    """A talking video: speech-like audio, the mouth following it, random head motion.

    Args:
        seed: any non-negative int; audio and head motion use independent streams of it.
        num_frames: T >= 1 video frames.
        fps: video frame rate.
    Returns:
        TalkingClip with motion (T, 73), audio (round(T / fps * 16000),), mouth_open (T,).
    """
    if num_frames < 1 or fps <= 0:
        raise InputError(f"need num_frames >= 1 and fps > 0, got {num_frames}, {fps}")
    audio, syllables = synth_speech(seed, num_frames / fps)
    frame_times = (np.arange(num_frames) + 0.5) / fps
    opening, rounding, spreading = mouth_track(syllables, frame_times)
    # Head motion from a stream independent of the audio's (different SeedSequence key).
    motion = random_motion(
        int(np.random.SeedSequence([int(seed), 0x7A1C]).generate_state(1)[0]), num_frames, fps, mouth=False
    )
    controls = EXPRESSION_CONTROLS
    motion[:, controls["jaw_open"]] = opening
    motion[:, controls["pucker"]] = np.clip(motion[:, controls["pucker"]] + 0.7 * rounding, 0, 1)
    motion[:, controls["lip_stretch"]] = np.clip(motion[:, controls["lip_stretch"]] + 0.5 * spreading, 0, 1)
    return TalkingClip(
        motion=motion.astype(np.float32),
        audio=audio,
        sample_rate=SAMPLE_RATE,
        mouth_open=opening.astype(np.float32),
        fps=float(fps),
    )
