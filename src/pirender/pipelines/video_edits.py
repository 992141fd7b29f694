"""Edits of a whole video as data: keyframed values, coefficient groups and the per-frame recipe.

A video edit changes each frame's *own* coefficients (extracted from that frame) and leaves everything
not asked for as it is. In this order, for frame t at time t / fps:

1. held groups (`hold`): the group's coefficients stay at frame 0's values (`--hold pose` = `--pose-still`);
2. pose damping: pose_t = mean + pose_scale * (pose_t - mean), the clip's mean pose (`--pose-scale 0.5`);
3. a replacement mouth track (dubbing, `--mouth-from`): the mouth group's slots are replaced;
4. a preset blend: exp = (1 - a_t) * exp + a_t * preset, a_t keyframed (0 = the frame's own);
5. expression offsets: slot += v_t (`--exp smile=0.8`, or keyframed `--exp smile=0@0s,1@2s,1@5s,0@6s`);
6. pose offsets in degrees (`--yaw 10`, keyframed alike), added to the (damped) pose.

Every value can be a constant or keyframes `V@Ts,V@Ts,...` (times in seconds, increasing, linear in
between, held before the first and after the last). Expression values are offsets from the frame's
own value, so a ramp that starts and ends at 0 leaves the frames outside it untouched; the SynthHead
renderer clips controls to their range.

Groups name coefficient slots by what they move. In the SynthHead basis (`pirender.synth`) the slots
are named controls: mouth = jaw_open, pucker, lip_stretch (what speech drives); eyes = blinks,
brows, squint; expression = the other controls; pose = rotation and translation. Deep3DFaceRecon's
basis (the official weights) is a PCA with no per-region slots, so there the mouth group is the whole
expression and the eyes group is empty.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pirender.errors import InputError
from pirender.motion.coeffs import ANGLE, EXP, TRANS
from pirender.pipelines.edits import POSE_PARAMS, Preset, _finite, expression_slot, load_preset
from pirender.synth.expression import EXPRESSION_CONTROLS, MOUTH_CONTROLS

ANGLE_NAMES = ("pitch", "yaw", "roll")
POSE_COLUMNS = np.r_[ANGLE.start : ANGLE.stop, TRANS.start : TRANS.stop]


def group_columns(group: str, space: str = "synthhead") -> np.ndarray:
    """Columns of the 73-vector that a coefficient group covers, in an expression basis."""
    c = EXPRESSION_CONTROLS
    if group == "pose":
        return POSE_COLUMNS.copy()
    if space == "deep3d":
        if group == "mouth":
            return np.arange(EXP.start, EXP.stop)
        if group == "eyes":
            return np.zeros(0, dtype=int)
        if group == "expression":
            return np.zeros(0, dtype=int)
    elif space == "synthhead":
        named = {
            "mouth": MOUTH_CONTROLS,
            "eyes": ("blink_left", "blink_right", "brow_raise", "brow_furrow", "squint"),
        }
        if group in named:
            return np.array([EXP.start + c[name] for name in named[group]])
        if group == "expression":
            taken = {c[n] for names in named.values() for n in names}
            return np.array([EXP.start + i for i in range(EXP.stop - EXP.start) if i not in taken])
    else:
        raise InputError(f"unknown expression space {space!r} (synthhead or deep3d)")
    raise InputError(f"unknown coefficient group {group!r}; groups: {', '.join(GROUPS)}")


GROUPS = ("mouth", "eyes", "expression", "pose")


def expression_space(extractor: object | None) -> str:
    """The expression basis an extractor's coefficients are in: "deep3d" or "synthhead"."""
    return "deep3d" if getattr(extractor, "kind", None) == "deep3d" else "synthhead"


@dataclass(frozen=True)
class Keyframes:
    """A value over time: `times` (s, increasing) and `values`; one pair = a constant."""

    times: tuple[float, ...]
    values: tuple[float, ...]

    @classmethod
    def constant(cls, value: float) -> Keyframes:
        return cls((0.0,), (float(value),))

    @property
    def last_time(self) -> float:
        return self.times[-1]

    def at(self, times: np.ndarray) -> np.ndarray:
        """(T,) values at `times` seconds: linear between keyframes, held outside them."""
        return np.interp(np.asarray(times, dtype=np.float64), self.times, self.values).astype(np.float32)


_KEY = re.compile(r"^\s*([^@]+?)\s*@\s*([^@s]+?)\s*s?\s*$")


def parse_keyframes(text: str | float, *, what: str) -> Keyframes:
    """ "0.8" -> a constant; "0@0s,1@2s,1@5s,0@6s" -> keyframes (the trailing s is optional)."""
    if isinstance(text, int | float):
        return Keyframes.constant(_finite(str(text), what))
    if "@" not in text:
        return Keyframes.constant(_finite(text, what))
    times, values = [], []
    for item in text.split(","):
        match = _KEY.match(item)
        if not match:
            raise InputError(f"{what}: {item!r} is not VALUE@SECONDS (e.g. 0@0s,1@2s)")
        values.append(_finite(match.group(1), what))
        times.append(_finite(match.group(2), what))
    if any(t < 0 for t in times) or any(b <= a for a, b in zip(times, times[1:], strict=False)):
        raise InputError(f"{what}: keyframe times must be >= 0 and increasing, got {text!r}")
    return Keyframes(tuple(times), tuple(values))


@dataclass(frozen=True)
class VideoEdit:
    """What to change in every frame of a video (order in the module docstring)."""

    exp: tuple[tuple[int, Keyframes], ...] = ()  # expression slot -> offset
    pose: tuple[tuple[str, Keyframes], ...] = ()  # yaw/pitch/roll (degrees) or tx/ty/tz -> offset
    preset: Preset | None = None
    preset_strength: Keyframes = field(default_factory=lambda: Keyframes.constant(1.0))
    pose_scale: float = 1.0
    hold: tuple[str, ...] = ()  # groups held at frame 0's values
    space: str = "synthhead"

    def last_keyframe(self) -> float:
        """The latest keyframe time (s) of any keyframed value (0 when all are constants)."""
        tracks = [k for _, k in self.exp] + [k for _, k in self.pose]
        if self.preset is not None:
            tracks.append(self.preset_strength)
        return max((k.last_time for k in tracks), default=0.0)

    def check_length(self, num_frames: int, fps: float) -> None:
        """InputError when a keyframe lies beyond the end of an output of num_frames at fps."""
        last, duration = self.last_keyframe(), num_frames / fps
        if last > duration + 1e-6:
            raise InputError(
                f"a keyframe at {last:g} s lies beyond the end of the output ({duration:.2f} s, "
                f"{num_frames} frames at {fps:g} fps)"
            )

    def is_identity(self) -> bool:
        return not (self.exp or self.pose or self.preset is not None or self.hold) and self.pose_scale == 1.0

    def apply(self, own: np.ndarray, fps: float, *, mouth: np.ndarray | None = None) -> np.ndarray:
        """Edit a clip's coefficients.

        Args:
            own: (T, 73) the frames' own coefficients.
            fps: frame rate (keyframe times are seconds; frame t is at t / fps).
            mouth: optional (T, 73) motion whose mouth-group columns replace the frames' own.
        Returns:
            (T, 73) float32 edited copy; columns not asked for are the input's, bit for bit.
        """
        out = np.array(own, dtype=np.float32, copy=True)
        times = np.arange(len(out)) / fps
        for group in self.hold:
            columns = group_columns(group, self.space)
            out[:, columns] = out[:1, columns]
        if self.pose_scale != 1.0:
            mean = out[:, POSE_COLUMNS].mean(axis=0, keepdims=True)
            out[:, POSE_COLUMNS] = mean + self.pose_scale * (out[:, POSE_COLUMNS] - mean)
        if mouth is not None:
            if mouth.shape != out.shape:
                raise InputError(f"the mouth track must be {out.shape}, got {mouth.shape}")
            columns = group_columns("mouth", self.space)
            out[:, columns] = mouth[:, columns]
        if self.preset is not None:
            a = self.preset_strength.at(times)[:, None]
            out[:, EXP] = (1.0 - a) * out[:, EXP] + a * self.preset.exp[None]
        for slot, keys in self.exp:
            out[:, EXP.start + slot] += keys.at(times)
        for name, keys in self.pose:
            column, unit = POSE_PARAMS[name]
            out[:, column] += keys.at(times) * unit
        return out


def build_video_edit(
    *,
    exp: Mapping[str | int, float | str] | Sequence[str] | None = None,
    yaw: float | str | None = None,
    pitch: float | str | None = None,
    roll: float | str | None = None,
    tx: float | str | None = None,
    ty: float | str | None = None,
    tz: float | str | None = None,
    preset: str | Preset | None = None,
    preset_strength: float | str = 1.0,
    pose_scale: float = 1.0,
    pose_still: bool = False,
    hold: Sequence[str] = (),
    space: str = "synthhead",
) -> VideoEdit:
    """A VideoEdit from user-level values ("smile=0@0s,1@2s" strings, names, numbers), validated."""
    if isinstance(exp, Mapping):
        items = [(k, v) for k, v in exp.items()]
    else:
        items = []
        for text in exp or ():
            key, sep, value = text.partition("=")
            if not sep:
                raise InputError(f"--exp expects NAME=VALUE or NAME=V@Ts,V@Ts..., got {text!r}")
            items.append((key.strip(), value))
    exp_keys = tuple((expression_slot(k), parse_keyframes(v, what=f"--exp {k}")) for k, v in items)
    pose_values = {"yaw": yaw, "pitch": pitch, "roll": roll, "tx": tx, "ty": ty, "tz": tz}
    pose_keys = tuple(
        (name, parse_keyframes(v, what=f"--{name}")) for name, v in pose_values.items() if v is not None
    )
    if not math.isfinite(pose_scale) or pose_scale < 0:
        raise InputError(f"--pose-scale must be a finite number >= 0, got {pose_scale}")
    groups = list(hold)
    for group in groups:
        if group not in GROUPS:
            raise InputError(f"--hold {group!r}: groups are {', '.join(GROUPS)}")
    if pose_still:
        if pose_scale != 1.0:
            raise InputError("--pose-still and --pose-scale conflict: a held pose has no motion to scale")
        groups.append("pose")
    if "pose" in groups and pose_scale != 1.0:
        raise InputError("--hold pose and --pose-scale conflict: a held pose has no motion to scale")
    if preset is not None and not isinstance(preset, Preset):
        preset = load_preset(preset)
    strength = parse_keyframes(preset_strength, what="--preset-strength")
    group_columns("mouth", space)  # validates the space
    return VideoEdit(
        exp_keys, pose_keys, preset, strength, float(pose_scale), tuple(dict.fromkeys(groups)), space
    )


__all__ = [
    "ANGLE_NAMES",
    "GROUPS",
    "Keyframes",
    "VideoEdit",
    "build_video_edit",
    "expression_space",
    "group_columns",
    "parse_keyframes",
]
