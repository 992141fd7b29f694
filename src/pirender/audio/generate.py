"""Speech -> K motion sequences at any frame rate: the entry point the `speak` pipeline calls."""

from __future__ import annotations

import numpy as np
import torch

from pirender.audio.features import log_mel, num_motion_frames
from pirender.audio.model import MotionFlow
from pirender.errors import InputError
from pirender.motion.coeffs import COEFF_DIM, MOTION_DIM, POSE


def generate_motion(
    model: MotionFlow,
    audio_samples: np.ndarray,
    sample_rate: int,
    fps: float,
    *,
    num_samples: int = 1,
    temperature: float = 1.0,
    seed: int = 0,
    pose_motion: np.ndarray | None = None,
) -> np.ndarray:
    """Sample motion that speaks `audio_samples`.

    1. log-mel of the speech, audio window of every frame at the model's frame rate;
    2. autoregressive sampling of K sequences (MotionFlow.sample), batched over K;
    3. linear resampling in time from the model's rate to `fps` (frame t at mid-time (t + 0.5)/fps);
    4. with `pose_motion`, its head pose replaces the sampled one (sample-then-overwrite, below).

    Pose from a reference: the model is sampled as usual and only its expression columns are kept;
    angle and translation come from `pose_motion`, looped back and forth (mirrored, so there is no
    jump at the loop point) or truncated to T frames, taken as given at `fps`. Sample-then-overwrite
    rather than conditioning on the reference pose because in the training data (SynthHead talking
    clips, and real speech alike to first order) head pose carries no information about the mouth,
    so the expression marginal is what conditioning on pose would give, at no extra cost.

    Args:
        model: a trained MotionFlow (flow, gaussian or regressor).
        audio_samples: (N,) float mono speech.
        sample_rate: rate of `audio_samples` in Hz (resampled to 16 kHz when different).
        fps: output frame rate.
        num_samples: K independent samples.
        temperature: latent noise scale (1 = the learnt distribution, 0 = the prior's mean path).
        seed: seed of the sampling noise; same seed, same output.
        pose_motion: optional (T', 70 | 73) reference motion; its columns 64:70 are the pose.
    Returns:
        (K, T, 70) float32 motion [exp 64 | angle 3 | trans 3], T = round(N / sample_rate * fps).
    """
    samples = np.asarray(audio_samples, dtype=np.float32)
    if samples.ndim != 1 or samples.size == 0:
        raise InputError(f"expected non-empty mono audio samples (N,), got shape {samples.shape}")
    if fps <= 0 or num_samples < 1 or temperature < 0:
        raise InputError("fps must be > 0, num_samples >= 1 and temperature >= 0")
    if pose_motion is not None:
        pose_motion = np.asarray(pose_motion, dtype=np.float32)
        if (
            pose_motion.ndim != 2
            or pose_motion.shape[1] not in (MOTION_DIM, COEFF_DIM)
            or len(pose_motion) == 0
        ):
            raise InputError(
                f"pose motion must be (T, {MOTION_DIM}) or (T, {COEFF_DIM}), got {pose_motion.shape}"
            )

    num_frames = num_motion_frames(samples.size, fps, sample_rate)
    model_fps = model.config.fps
    model_frames = num_motion_frames(samples.size, model_fps, sample_rate) + 1  # one spare for interpolation
    mel = log_mel(samples, sample_rate)
    generator = torch.Generator().manual_seed(int(seed))
    with torch.inference_mode():
        motion = model.eval().sample(
            mel, model_frames, num_samples=num_samples, temperature=temperature, generator=generator
        )
    motion = resample_frames(motion.numpy(), model_fps, fps, num_frames)
    if pose_motion is not None:
        motion[:, :, POSE] = pose_motion[mirror_loop(len(pose_motion), num_frames), POSE]
    return motion.astype(np.float32)


def resample_frames(motion: np.ndarray, fps_in: float, fps_out: float, num_frames: int) -> np.ndarray:
    """Linear interpolation in time, frames at mid-times: (K, T_in, D) -> (K, num_frames, D)."""
    if fps_in == fps_out and motion.shape[1] >= num_frames:
        return motion[:, :num_frames].copy()
    t_in = (np.arange(motion.shape[1]) + 0.5) / fps_in
    t_out = (np.arange(num_frames) + 0.5) / fps_out
    pos = np.clip(np.interp(t_out, t_in, np.arange(motion.shape[1])), 0, motion.shape[1] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, motion.shape[1] - 1)
    w = (pos - lo)[None, :, None]
    return (1 - w) * motion[:, lo] + w * motion[:, hi]


def mirror_loop(length: int, num_frames: int) -> np.ndarray:
    """Indices 0, 1, .., L-1, L-2, .., 1, 0, 1, ... (num_frames of them) into a sequence of `length`."""
    if length == 1:
        return np.zeros(num_frames, dtype=int)
    period = 2 * (length - 1)
    phase = np.arange(num_frames) % period
    return np.where(phase < length, phase, period - phase)
