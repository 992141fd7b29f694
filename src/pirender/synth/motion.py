"""Smooth random motion for SynthHead "videos": head pose, framing, expressions and blinks.

Every trajectory is band-limited noise (white noise smoothed by a Gaussian of a few hundred ms),
so consecutive frames differ little, as in real video. Amplitudes are VoxCeleb-like: yaw std
about 0.2 rad, pitch and roll smaller, translation a few hundredths, crop centre a few pixels.
Blinks are short events (about 0.2 s) every 2-6 s. Deterministic per seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d

from pirender.errors import InputError
from pirender.motion import coeffs as layout
from pirender.synth.expression import EXPRESSION_CONTROLS, MOUTH_CONTROLS, neutral_coeffs

# (std, smoothing seconds) per pose/crop column; index into the 73-vector.
_POSE_NOISE = {
    64: (0.12, 0.6),  # pitch
    65: (0.22, 0.8),  # yaw
    66: (0.07, 0.8),  # roll
    67: (0.03, 1.0),  # trans x
    68: (0.03, 1.0),  # trans y
    69: (0.08, 1.2),  # trans z
    70: (0.05, 1.5),  # crop s (relative)
    71: (4.0, 1.2),  # crop tx (px)
    72: (4.0, 1.2),  # crop ty (px)
}
# Expression controls that drift slowly (blinks and the mouth in talking mode are handled apart).
_EXPR_DRIFT = ("smile", "frown", "pucker", "lip_stretch", "brow_raise", "brow_furrow", "cheek_puff", "squint")


def smooth_noise(rng: np.random.Generator, num_frames: int, sigma_frames: float) -> np.ndarray:
    """(num_frames,) zero-mean, unit-std band-limited noise (Gaussian-smoothed white noise)."""
    sigma_frames = max(float(sigma_frames), 0.5)
    pad = int(4 * sigma_frames) + 1
    white = rng.standard_normal(num_frames + 2 * pad)
    smooth = gaussian_filter1d(white, sigma_frames, mode="nearest")[pad : pad + num_frames]
    # A Gaussian of std sigma passes 1 / sqrt(2 sqrt(pi) sigma) of unit white noise's std.
    return smooth * np.sqrt(2.0 * np.sqrt(np.pi) * sigma_frames)


def blink_track(rng: np.random.Generator, num_frames: int, fps: float) -> np.ndarray:
    """(num_frames,) blink amount in [0, 1]: raised-cosine closures of ~0.2 s every 2-6 s."""
    track = np.zeros(num_frames)
    t = rng.uniform(0.3, 3.0)
    times = np.arange(num_frames) / fps
    while t < num_frames / fps:
        duration = rng.uniform(0.15, 0.3)
        phase = (times - t) / duration
        inside = (phase >= 0) & (phase <= 1)
        track[inside] = np.maximum(track[inside], 0.5 - 0.5 * np.cos(2 * np.pi * phase[inside]))
        t += duration + rng.uniform(2.0, 6.0)
    return track


def random_motion(seed: int, num_frames: int, fps: float = 25.0, *, mouth: bool = True) -> np.ndarray:
    """Smooth random motion.

    Args:
        seed: any non-negative int; the same seed gives the same motion.
        num_frames: T >= 1.
        fps: frame rate the smoothing time constants refer to.
        mouth: if False, jaw_open and mouth-shape controls stay 0 (talking_clip drives them).
    Returns:
        (T, 73) float32 coefficients [exp 64 | angle 3 | trans 3 | crop 3]; unnamed exp slots are 0.
    """
    if num_frames < 1:
        raise InputError(f"num_frames must be >= 1, got {num_frames}")
    if fps <= 0:
        raise InputError(f"fps must be positive, got {fps}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x30710]))
    motion = np.repeat(neutral_coeffs()[None, :].astype(np.float64), num_frames, axis=0)
    for column, (std, seconds) in _POSE_NOISE.items():
        noise = smooth_noise(rng, num_frames, seconds * fps)
        offset = rng.normal(0.0, 0.5 * std)  # a per-video mean pose, as real videos have
        if column == 70:
            motion[:, column] *= 1.0 + np.clip(offset + std * noise, -0.2, 0.2)
        else:
            motion[:, column] += offset + std * noise
    for name in _EXPR_DRIFT:
        # Mostly at rest, sometimes active: a positive part of smooth noise.
        level = rng.uniform(-1.0, 0.3)
        track = np.clip(level + 0.6 * smooth_noise(rng, num_frames, 1.0 * fps), 0.0, 1.0)
        motion[:, EXPRESSION_CONTROLS[name]] = track
    blink = blink_track(rng, num_frames, fps)
    motion[:, EXPRESSION_CONTROLS["blink_left"]] = blink
    motion[:, EXPRESSION_CONTROLS["blink_right"]] = blink
    if mouth:
        jaw = np.clip(rng.uniform(-0.6, 0.2) + 0.5 * smooth_noise(rng, num_frames, 0.5 * fps), 0.0, 1.0)
        motion[:, EXPRESSION_CONTROLS["jaw_open"]] = jaw
        shift = 0.3 * smooth_noise(rng, num_frames, 1.5 * fps)
        motion[:, EXPRESSION_CONTROLS["mouth_shift"]] = np.clip(shift, -1.0, 1.0)
    else:
        for name in ("smile", "frown", "pucker", "lip_stretch"):
            motion[:, EXPRESSION_CONTROLS[name]] *= 0.5  # talking_clip adds speech-driven lip shapes
    motion[:, layout.ANGLE] = np.clip(motion[:, layout.ANGLE], -1.0, 1.0)
    return motion.astype(np.float32)


def edit_motion(seed: int, num_frames: int, fps: float = 25.0, *, hold_seconds: float = 0.6) -> np.ndarray:
    """Expression edits for training editable renderers: the pose of `random_motion` (halved), and
    the expression held in segments of about `hold_seconds`, each either neutral or one or two
    controls at 0.6-1.0 (jaw_open in a third of the expressive segments), switched within 2 frames.
    Pairs of frames of one such video are what an edit is: the same head and about the same pose,
    a large change of expression.

    Returns:
        (T, 73) float32 coefficients, like `random_motion`.
    """
    motion = random_motion(seed, num_frames, fps).astype(np.float64)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xED17]))
    rest = neutral_coeffs().astype(np.float64)
    motion[:, layout.ANGLE] = rest[layout.ANGLE] + 0.5 * (motion[:, layout.ANGLE] - rest[layout.ANGLE])
    names = [n for n in EXPRESSION_CONTROLS if n != "mouth_shift"]
    target = np.zeros((num_frames, len(EXPRESSION_CONTROLS)))
    start, neutral = 0, bool(rng.random() < 0.5)
    while start < num_frames:
        length = max(2, int(round(hold_seconds * fps * rng.uniform(0.6, 1.4))))
        if not neutral:
            picks = ["jaw_open"] if rng.random() < 1 / 3 else []
            picks += list(rng.choice(names, size=int(rng.integers(1, 3)), replace=False))
            for name in dict.fromkeys(picks):
                target[start : start + length, EXPRESSION_CONTROLS[name]] = rng.uniform(0.6, 1.0)
        start, neutral = start + length, not neutral
    target = gaussian_filter1d(target, sigma=0.7, axis=0, mode="nearest")  # a switch takes ~2 frames
    motion[:, : len(EXPRESSION_CONTROLS)] = 0.0
    motion[:, list(EXPRESSION_CONTROLS.values())] = target
    return motion.astype(np.float32)


def random_edit(
    rng: np.random.Generator, frame: np.ndarray, controls: Sequence[str] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """A still-photo edit of one frame: the same head and pose, one to three controls changed a lot.

    The source keeps the frame's expression or (half the time) is neutral; the target is the source
    with one or two controls moved to the far half of their range (from below 0.5 to 0.6-1.0, from
    above it to 0-0.2; mouth_shift to +-0.5-1 or back to 0), and jaw_open too in a third of the edits,
    so both opening and closing are trained. This is what `pirender edit` asks of a renderer: a large
    change of expression in a few hundred pixels, nothing else moved.

    Args:
        rng: the generator the edit is drawn from.
        frame: (73,) coefficients whose pose, framing and (maybe) expression the edit keeps.
        controls: if given, the one or two controls are drawn from these names only, and jaw_open is
            not added (a focused edit, `data.edit_focus`).

    Returns:
        (source, target): two (73,) float32 coefficient vectors.
    """
    source = np.asarray(frame, dtype=np.float64).copy()
    if rng.random() < 0.5:
        source[: len(EXPRESSION_CONTROLS)] = 0.0
    target = source.copy()
    names = list(controls or EXPRESSION_CONTROLS)
    picks = ["jaw_open"] if not controls and rng.random() < 1 / 3 else []
    picks += _one_or_two(rng, names)
    for name in dict.fromkeys(picks):
        slot = EXPRESSION_CONTROLS[name]
        if name == "mouth_shift":
            far = abs(target[slot]) >= 0.5
            target[slot] = 0.0 if far else rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0)
        else:
            target[slot] = rng.uniform(0.0, 0.2) if target[slot] >= 0.5 else rng.uniform(0.6, 1.0)
    return source.astype(np.float32), target.astype(np.float32)


def random_track_edit(
    rng: np.random.Generator, motion: np.ndarray, donor: np.ndarray, controls: Sequence[str] = ()
) -> np.ndarray:
    """A video edit of a whole clip: some controls' tracks replaced by another clip's.

    Half the time the mouth (`MOUTH_CONTROLS`, as a dub does), otherwise one or two controls drawn at
    random; the donor's tracks start at a random frame and wrap around. Pose, framing and the other
    controls stay the clip's own. Pairs of a frame and its edited version, each with its real window,
    teach a renderer to follow the centre frame of a window that moves, as it must in a dub.

    Args:
        rng: the generator the edit is drawn from.
        motion: (T, 73) the clip's coefficients.
        donor: (T2, 73) the clip whose tracks are copied.
        controls: if given, the one or two tracks are drawn from these names only (never the mouth
            group as a whole; a focused edit, `data.edit_focus`).

    Returns:
        (T, 73) float32 edited coefficients.
    """
    names = list(MOUTH_CONTROLS) if not controls and rng.random() < 0.5 else []
    names = names or _one_or_two(rng, list(controls or EXPRESSION_CONTROLS))
    rows = (int(rng.integers(len(donor))) + np.arange(len(motion))) % len(donor)
    edited = np.array(motion, dtype=np.float32)
    slots = [EXPRESSION_CONTROLS[name] for name in names]
    edited[:, slots] = donor[rows][:, slots]
    return edited


def _one_or_two(rng: np.random.Generator, names: list[str]) -> list[str]:
    """One or two distinct names drawn from `names` (one when it holds one)."""
    return list(rng.choice(names, size=min(int(rng.integers(1, 3)), len(names)), replace=False))


def random_pose_edit(rng: np.random.Generator, motion: np.ndarray) -> np.ndarray:
    """A pose edit of a whole clip: its head motion damped, or its head turned a few degrees.

    Half the time the pose (angles and translation) is pulled towards the clip's mean pose,
    pose = mean + s (pose - mean) with s drawn from [0, 0.75] (what `--pose-scale` asks); otherwise one
    angle gets a constant offset of 1-8 degrees either way (what `--yaw/--pitch/--roll` ask). The
    expression and framing stay the clip's own. Such edits ask a renderer for a small head motion away
    from the source's own pose, which it otherwise carries out only in part (docs/pipelines.md).

    Args:
        rng: the generator the edit is drawn from.
        motion: (T, 73) the clip's coefficients.

    Returns:
        (T, 73) float32 edited coefficients.
    """
    edited = np.array(motion, dtype=np.float64)
    if rng.random() < 0.5:
        pose = edited[:, layout.POSE]
        mean = pose.mean(axis=0, keepdims=True)
        edited[:, layout.POSE] = mean + rng.uniform(0.0, 0.75) * (pose - mean)
    else:
        column = layout.ANGLE.start + int(rng.integers(3))
        edited[:, column] += rng.choice([-1.0, 1.0]) * np.deg2rad(rng.uniform(1.0, 8.0))
    return edited.astype(np.float32)
