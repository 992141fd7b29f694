"""Semantic edits as data: pose and expression recipes, named expression presets, sweeps and grids.

An `Edit` turns the source's own (73,) coefficients into the edited ones, in this order:

1. expression replaced by another face's (`expression`, from `--expression-from`);
2. blended towards a named preset: exp = (1 - a) * exp + a * preset (a = `preset_strength`, 1 = replace);
3. single expression slots set (`exp`: slot -> value; `--exp 5=0.8` or `--exp smile=1`);
4. head pose: `yaw`, `pitch`, `roll` in degrees, `tx`, `ty`, `tz` in 3DMM units. By default they are
   absolute values (`--yaw 20` = the head turned 20 degrees from frontal, whatever the source's own
   pose), as the official intuitive-control demo overwrites rows 64:70; with `relative=True` they are
   added to the source's own pose. Components left None keep the source's value. The crop values
   (s, tx, ty) always stay the source's own.

Angles follow Deep3DFaceRecon (spec section 13): angle[0] = pitch (about x), angle[1] = yaw (about y),
angle[2] = roll (about z), radians. `--yaw 20` stores radians(20) in angle[1].

Presets are JSON (or .npz) files, one preset per file, name = file stem:

    {"format_version": 1, "description": "...", "space": "synthhead",
     "controls": {"smile": 1.0}}          # SynthHead named controls, or
     "exp": {"5": 0.8} | [64 floats]      # expression slots (sparse) or the whole vector

Unlisted slots are 0: a preset is a whole expression. `space` says which expression basis the
numbers belong to ("synthhead" = `pirender.synth.EXPRESSION_CONTROLS`, "deep3d" = Deep3DFaceRecon /
the official weights, "neutral" = all zero, meaningful everywhere). Built-in presets live in
`pirender/presets/`; user presets in $PIRENDER_PRESET_DIR (default ~/.config/pirender/presets), which
is searched first.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pirender.errors import InputError
from pirender.motion.coeffs import ANGLE, COEFF_DIM, EXP, TRANS

PRESET_FORMAT_VERSION = 1
BUILTIN_PRESET_DIR = Path(__file__).resolve().parents[1] / "presets"
PRESET_DIR_ENV = "PIRENDER_PRESET_DIR"
EXP_DIM = EXP.stop - EXP.start

# Pose parameters: name -> (column in the 73-vector, degrees -> stored unit).
POSE_PARAMS: dict[str, tuple[int, float]] = {
    "pitch": (ANGLE.start + 0, math.pi / 180.0),
    "yaw": (ANGLE.start + 1, math.pi / 180.0),
    "roll": (ANGLE.start + 2, math.pi / 180.0),
    "tx": (TRANS.start + 0, 1.0),
    "ty": (TRANS.start + 1, 1.0),
    "tz": (TRANS.start + 2, 1.0),
}


def expression_slot(key: str | int) -> int:
    """An expression slot from an index ("5", 5) or a SynthHead control name ("smile")."""
    if isinstance(key, int) or (isinstance(key, str) and key.strip().lstrip("-").isdigit()):
        slot = int(key)
        if not 0 <= slot < EXP_DIM:
            raise InputError(f"expression index {slot} is outside 0..{EXP_DIM - 1}")
        return slot
    from pirender.synth.expression import EXPRESSION_CONTROLS

    if key not in EXPRESSION_CONTROLS:
        raise InputError(
            f"unknown expression {key!r}: give an index 0..{EXP_DIM - 1} or a SynthHead control "
            f"({', '.join(EXPRESSION_CONTROLS)})"
        )
    return EXPRESSION_CONTROLS[key]


# -- presets ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Preset:
    """A named expression: `exp` (64,) float32 in the basis named by `space`."""

    name: str
    exp: np.ndarray
    description: str = ""
    space: str = "synthhead"

    def to_json(self) -> str:
        return json.dumps(
            {
                "format_version": PRESET_FORMAT_VERSION,
                "description": self.description,
                "space": self.space,
                "exp": [round(float(v), 6) for v in self.exp],
            },
            indent=2,
        )


def user_preset_dir() -> Path:
    """Where `--save-preset NAME` writes and where NAME is looked up first."""
    env = os.environ.get(PRESET_DIR_ENV)
    return Path(env) if env else Path.home() / ".config" / "pirender" / "presets"


def list_presets() -> dict[str, Path]:
    """Every preset name -> its file (user presets shadow built-in ones of the same name)."""
    found: dict[str, Path] = {}
    for directory in (BUILTIN_PRESET_DIR, user_preset_dir()):
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                if path.suffix in (".json", ".npz"):
                    found[path.stem] = path
    return dict(sorted(found.items()))


def load_preset(name_or_path: str | os.PathLike[str]) -> Preset:
    """A preset by name (user dir, then built-in) or by path to a .json / .npz file."""
    path = Path(name_or_path)
    if path.suffix not in (".json", ".npz") or not path.is_file():
        if path.suffix in (".json", ".npz"):
            raise InputError(f"preset file not found: {path}")
        known = list_presets()
        if str(name_or_path) not in known:
            raise InputError(f"unknown preset {str(name_or_path)!r}; known: {', '.join(known) or 'none'}")
        path = known[str(name_or_path)]
    if path.suffix == ".npz":
        return _load_npz_preset(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a readable preset JSON ({' '.join(str(e).split())})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a preset is a JSON object")
    version = data.get("format_version", PRESET_FORMAT_VERSION)
    if version != PRESET_FORMAT_VERSION:
        raise InputError(f"{path}: preset format_version {version} is not supported")
    unknown = sorted(set(data) - {"format_version", "description", "space", "controls", "exp"})
    if unknown:
        raise InputError(f"{path}: unknown preset keys {', '.join(unknown)}")
    exp = np.zeros(EXP_DIM, dtype=np.float32)
    raw = data.get("exp", {})
    if isinstance(raw, list):
        if len(raw) != EXP_DIM:
            raise InputError(f"{path}: 'exp' must list {EXP_DIM} values, got {len(raw)}")
        exp[:] = [_preset_number(path, f"exp[{i}]", v) for i, v in enumerate(raw)]
    else:
        for key, value in _preset_object(path, "exp", raw).items():
            exp[expression_slot(key)] = _preset_number(path, f"exp {key}", value)
    for key, value in _preset_object(path, "controls", data.get("controls", {})).items():
        exp[expression_slot(key)] = _preset_number(path, f"controls {key}", value)
    if not np.all(np.isfinite(exp)):
        raise InputError(f"{path}: preset values contain NaN or infinity")
    return Preset(path.stem, exp, str(data.get("description", "")), str(data.get("space", "synthhead")))


def _preset_object(path: Path, key: str, value: object) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{path}: '{key}' must be an object of NAME: VALUE pairs, got {value!r}")
    return value


def _preset_number(path: Path, what: str, value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{path}: preset value {what} must be a number, got {value!r}") from None


def _load_npz_preset(path: Path) -> Preset:
    try:
        with np.load(path, allow_pickle=False) as data:
            exp = np.asarray(data["exp"], dtype=np.float32).reshape(-1)
            space = str(data["space"]) if "space" in data.files else "deep3d"
    except (KeyError, ValueError, OSError) as e:
        raise InputError(
            f"{path}: not a preset .npz with an 'exp' array ({' '.join(str(e).split())})"
        ) from None
    if exp.shape != (EXP_DIM,) or not np.all(np.isfinite(exp)):
        raise InputError(f"{path}: 'exp' must hold {EXP_DIM} finite values, got shape {exp.shape}")
    return Preset(path.stem, exp, "", space)


def save_preset(preset: Preset, name_or_path: str | os.PathLike[str]) -> Path:
    """Write a preset as JSON, atomically: to a path ending in .json, or as NAME into user_preset_dir()."""
    from pirender.media.atomic import atomic_path

    target = Path(name_or_path)
    if target.suffix != ".json":
        name = str(name_or_path)
        if not name or any(c in name for c in "/\\") or name.startswith("."):
            raise InputError(f"bad preset name {name!r} (a plain name, or a path ending in .json)")
        target = user_preset_dir() / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        tmp.write_text(preset.to_json() + "\n", encoding="utf-8")
    return target


# -- edits -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """One semantic edit of a (73,) coefficient vector (order of application in the module docstring)."""

    yaw: float | None = None  # degrees
    pitch: float | None = None
    roll: float | None = None
    tx: float | None = None  # 3DMM translation units
    ty: float | None = None
    tz: float | None = None
    exp: tuple[tuple[int, float], ...] = ()  # (slot, value) pairs
    preset: Preset | None = None
    preset_strength: float = 1.0
    expression: np.ndarray | None = field(default=None, compare=False)  # (64,) replaces the source's
    relative: bool = False  # pose values add to the source's pose instead of replacing it

    def apply(self, coeffs: np.ndarray) -> np.ndarray:
        """(73,) source coefficients -> (73,) float32 edited copy."""
        out = np.array(coeffs, dtype=np.float32, copy=True).reshape(COEFF_DIM)
        if self.expression is not None:
            out[EXP] = np.asarray(self.expression, dtype=np.float32).reshape(EXP_DIM)
        if self.preset is not None:
            a = self.preset_strength
            out[EXP] = (1.0 - a) * out[EXP] + a * self.preset.exp
        for slot, value in self.exp:
            out[EXP.start + slot] = value
        for name, (column, unit) in POSE_PARAMS.items():
            value = getattr(self, name)
            if value is not None:
                out[column] = (out[column] if self.relative else 0.0) + value * unit
        return out

    def replace(self, **changes: object) -> Edit:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def is_identity(self) -> bool:
        """True when apply() returns its input unchanged (no field set)."""
        return (
            all(getattr(self, name) is None for name in POSE_PARAMS)
            and not self.exp
            and self.preset is None
            and self.expression is None
        )


def parse_exp_assignments(items: Sequence[str]) -> tuple[tuple[int, float], ...]:
    """["5=0.8", "smile=1"] -> ((5, 0.8), (1, 1.0))."""
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--exp expects INDEX=VALUE or NAME=VALUE, got {item!r}")
        pairs.append((expression_slot(key.strip()), _finite(value, f"--exp {item}")))
    return tuple(pairs)


def _finite(text: str | float, what: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InputError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{what}: value must be finite, got {text}")
    return value


# -- sweeps ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """A sequence of edits varying one parameter, applied on top of a base edit.

    Forms (as typed after `--sweep`):
        yaw:-20:20:30            pose parameter (yaw pitch roll tx ty tz) from -20 to 20 in 30 frames
        exp.5:0:1:15, smile:0:1  one expression slot (index or SynthHead control), default 15 steps
        preset.surprise:0:1:20   blend strength towards a preset (0 = source, 1 = the preset)
        preset:smile,frown,angry one step per listed preset, at full strength
    """

    param: str
    values: tuple[float, ...] = ()
    presets: tuple[Preset, ...] = ()

    def edits(self, base: Edit) -> list[Edit]:
        if self.presets:
            return [base.replace(preset=p, preset_strength=1.0) for p in self.presets]
        if self.param in POSE_PARAMS:
            return [base.replace(**{self.param: v}) for v in self.values]
        if self.param.startswith("preset."):
            preset = load_preset(self.param.removeprefix("preset."))
            return [base.replace(preset=preset, preset_strength=v) for v in self.values]
        slot = expression_slot(self.param.removeprefix("exp."))
        return [base.replace(exp=(*base.exp, (slot, v))) for v in self.values]

    def __len__(self) -> int:
        return len(self.presets) or len(self.values)


DEFAULT_SWEEP_STEPS = 15


def parse_sweep(text: str) -> Sweep:
    """Parse one `--sweep` value (forms in `Sweep`'s docstring); errors are one-line InputErrors."""
    param, _, rest = text.partition(":")
    param = param.strip()
    if not rest:
        raise InputError(f"--sweep {text!r}: expected PARAM:START:END[:STEPS] or preset:NAME,NAME,...")
    if param == "preset":
        names = [n.strip() for n in rest.split(",") if n.strip()]
        return Sweep(param, presets=tuple(load_preset(n) for n in names))
    parts = rest.split(":")
    if len(parts) not in (2, 3):
        raise InputError(f"--sweep {text!r}: expected PARAM:START:END[:STEPS]")
    start, end = (_finite(p, f"--sweep {text}") for p in parts[:2])
    steps = DEFAULT_SWEEP_STEPS
    if len(parts) == 3:
        if not parts[2].strip().isdigit() or int(parts[2]) < 1:
            raise InputError(f"--sweep {text!r}: STEPS must be a positive integer")
        steps = int(parts[2])
    if param not in POSE_PARAMS:
        if param.startswith("preset."):
            load_preset(param.removeprefix("preset."))  # fail now, not after loading the renderer
        else:
            expression_slot(param.removeprefix("exp."))
    values = tuple(float(v) for v in np.linspace(start, end, steps)) if steps > 1 else (start,)
    return Sweep(param, values=values)


def parse_sweeps(sweep: str | Sweep | Sequence[str | Sweep] | None) -> list[Sweep]:
    """None, one sweep or several (Sweep objects or their "name:start:stop:steps" strings) -> a list."""
    if sweep is None:
        return []
    items = [sweep] if isinstance(sweep, str | Sweep) else list(sweep)
    return [s if isinstance(s, Sweep) else parse_sweep(s) for s in items]


def build_edit(
    *,
    yaw: float | None = None,
    pitch: float | None = None,
    roll: float | None = None,
    tx: float | None = None,
    ty: float | None = None,
    tz: float | None = None,
    exp: Mapping[str | int, float] | Sequence[str] | str | None = None,
    preset: str | os.PathLike[str] | Preset | None = None,
    preset_strength: float = 1.0,
    expression: np.ndarray | None = None,
    relative: bool = False,
) -> Edit:
    """An Edit from user-level values (names, "5=0.8" strings, preset names), validated."""
    if isinstance(exp, Mapping):
        pairs = tuple((expression_slot(k), _finite(v, f"exp {k}")) for k, v in exp.items())
    else:
        pairs = parse_exp_assignments([exp] if isinstance(exp, str) else list(exp or ()))
    for name, value in (("yaw", yaw), ("pitch", pitch), ("roll", roll), ("tx", tx), ("ty", ty), ("tz", tz)):
        if value is not None and not math.isfinite(value):
            raise InputError(f"{name} must be finite, got {value}")
    if not all(math.isfinite(v) for _, v in pairs) or not math.isfinite(preset_strength):
        raise InputError("expression values must be finite")
    if preset is not None and not isinstance(preset, Preset):
        preset = load_preset(preset)
    if expression is not None:
        expression = np.asarray(expression, dtype=np.float32).reshape(-1)
        if expression.shape != (EXP_DIM,) or not np.all(np.isfinite(expression)):
            raise InputError(f"expression must be {EXP_DIM} finite values, got shape {expression.shape}")
    return Edit(yaw, pitch, roll, tx, ty, tz, pairs, preset, preset_strength, expression, relative)
