"""pirender.audio: speech -> 3DMM motion (PIRenderer's audio-driven application, Ren et al. 2021, Sec. 4.4).

    >>> from pirender.audio import MotionFlow, generate_motion, load_audio
    >>> samples, sr = load_audio("speech.wav")            # any WAV/FLAC/MP3, or a video's audio track
    >>> model = MotionFlow.load("src/pirender/assets/audio_flow")
    >>> motion = generate_motion(model, samples, sr, fps=25.0, num_samples=4, temperature=0.8, seed=0)
    >>> motion.shape                                       # (4, T, 70): exp 64 | angle 3 | trans 3

Files: features.py (log-mel, frame alignment), normalizing_flow.py (conditional Glow layers),
model.py (MotionFlow and its baselines), generate.py (sampling API), data.py, train.py.
"""

from __future__ import annotations

from pirender.audio.config import AudioFlowConfig, AudioTrainConfig
from pirender.audio.features import log_mel
from pirender.audio.generate import generate_motion
from pirender.audio.model import MotionFlow
from pirender.media.audio import load_audio

__all__ = ["AudioFlowConfig", "AudioTrainConfig", "MotionFlow", "generate_motion", "load_audio", "log_mel"]
