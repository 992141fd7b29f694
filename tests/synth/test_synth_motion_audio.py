"""Random motion and talking clips: shapes, determinism, smoothness, audio/mouth relation."""

from __future__ import annotations

import numpy as np

from pirender.motion import coeffs as layout
from pirender.synth import EXPRESSION_CONTROLS, neutral_coeffs, random_motion, talking_clip


def _frame_rms(audio: np.ndarray, num_frames: int) -> np.ndarray:
    per_frame = audio.size // num_frames
    return np.sqrt((audio[: per_frame * num_frames].reshape(num_frames, per_frame) ** 2).mean(axis=1))


def test_random_motion_shape_determinism_and_smoothness() -> None:
    motion = random_motion(4, 200)
    assert motion.shape == (200, 73) and motion.dtype == np.float32
    assert np.array_equal(motion, random_motion(4, 200))
    assert not np.array_equal(motion, random_motion(5, 200))
    assert np.all(motion[:, len(EXPRESSION_CONTROLS) : 64] == 0)  # unnamed slots stay 0
    pose = motion[:, layout.POSE]
    # Smooth: frame-to-frame steps are small compared with the range travelled.
    steps = np.abs(np.diff(pose, axis=0)).mean(axis=0)
    spread = pose.max(axis=0) - pose.min(axis=0)
    assert np.all(steps < 0.1 * spread)
    assert spread[1] > 0.1  # the head really turns
    named = motion[:, : len(EXPRESSION_CONTROLS)]
    assert named.min() >= -1.0 and named.max() <= 1.0
    blink = motion[:, EXPRESSION_CONTROLS["blink_left"]]
    assert blink.max() > 0.9 and (blink < 0.05).mean() > 0.6  # blinks are short events
    crop = motion[:, layout.CROP]
    np.testing.assert_allclose(crop.mean(axis=0), neutral_coeffs()[layout.CROP], rtol=0.15)


def test_talking_clip_mouth_follows_audio() -> None:
    clip = talking_clip(9, 150, fps=25.0)
    assert clip.motion.shape == (150, 73) and clip.mouth_open.shape == (150,)
    assert clip.sample_rate == 16000 and clip.audio.shape == (96000,) and clip.audio.dtype == np.float32
    assert np.abs(clip.audio).max() <= 1.0
    np.testing.assert_array_equal(clip.motion[:, EXPRESSION_CONTROLS["jaw_open"]], clip.mouth_open)
    rms = _frame_rms(clip.audio, 150)
    assert np.corrcoef(rms, clip.mouth_open)[0, 1] > 0.75
    # Pauses: some frames silent with a closed mouth, and speech with the mouth open.
    assert (clip.mouth_open < 0.02).mean() > 0.1 and clip.mouth_open.max() > 0.5
    # A shifted copy correlates less: the relation is time-aligned.
    assert np.corrcoef(rms[5:], clip.mouth_open[:-5])[0, 1] < np.corrcoef(rms, clip.mouth_open)[0, 1] - 0.2


def test_talking_clip_deterministic_and_pose_independent_of_audio() -> None:
    a, b = talking_clip(3, 60), talking_clip(3, 60)
    assert a.audio.tobytes() == b.audio.tobytes() and np.array_equal(a.motion, b.motion)
    correlations = []
    for seed in range(8):
        clip = talking_clip(seed, 125)
        correlations.append(np.corrcoef(clip.motion[:, 65], clip.mouth_open)[0, 1])
        assert clip.audio.std() > 0.01
    # The head turns whatever is said: yaw is not a function of the mouth track.
    assert abs(np.mean(correlations)) < 0.3
    audio_only = [talking_clip(s, 60).audio for s in (1, 2)]
    assert not np.array_equal(*audio_only)
