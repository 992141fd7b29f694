"""Training configuration: frozen dataclasses, presets, and validated overrides.

The dataclasses are the single source of truth for names, types and defaults; defaults are the
official recipe (spec §3). Presets and command-line overrides are dotted keys (`data.batch_size`,
`renderer.max_nc`) checked against these fields: an unknown key or an unparsable value is an
InputError, never a silent default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from pirender.config import RendererConfig
from pirender.errors import InputError


@dataclass(frozen=True)
class DataConfig:
    path: str = ""  # LMDB root: train_list.txt, test_list.txt and <size>/ (spec §4)
    size: int = 256  # image size; selects the <size>/ environment
    batch_size: int = 5  # pairs per process per step; each pair is used in both directions
    num_workers: int = 2  # DataLoader workers (JPEG decoding happens there)
    cross_video_prob: float = 0.0  # chance a pair's source frame comes from another video of its identity
    # Not official: chance a pair is a near pair (source within near_pair_max_gap frames of the target,
    # same video), so small motions are trained too (data/pairs.py; docs/training.md)
    near_pair_prob: float = 0.0
    near_pair_max_gap: int = 2
    # Not official: chance a pair that is not a near pair is an expression pair (of
    # expression_pair_candidates frames of the target's video, the source is the one whose expression
    # differs most), so large expression changes are trained often (data/pairs.py; docs/training.md)
    expression_pair_prob: float = 0.0
    expression_pair_candidates: int = 8
    # Not official, SynthHead data only: chance a pair is an edit pair (the target frame's head and pose,
    # its expression edited, both rendered by SynthHead): half still-photo edits, half video edits whose
    # windows move (data/pairs.py; docs/training.md)
    edit_pair_prob: float = 0.0
    # Not official: the share of edit pairs that are pose edits (the video's head motion damped or
    # turned a few degrees, synth.motion.random_pose_edit), for `--pose-scale` and pose offsets
    edit_pose_share: float = 0.0
    # Not official: a share of the expression edit pairs that move only the controls named in
    # edit_focus (comma-separated SynthHead control names), so controls a renderer does not yet follow
    # are drawn often (synth.motion.random_edit / random_track_edit `controls`; docs/training.md)
    edit_focus: str = ""
    edit_focus_share: float = 0.0
    # Not official: a share of the still-photo edit pairs whose source is the neutral frontal face
    # (synth.neutral_coeffs: no expression, no rotation, the neutral framing) instead of the frame's:
    # the pairs of bench/mouth_overfit.py, which teach controls the mixed pairs do not (docs/training.md)
    edit_neutral_share: float = 0.0


@dataclass(frozen=True)
class LossConfig:
    # "auto": ImageNet VGG19 when `vgg_weights` (or torchvision's cache) has it, else the fallback
    backbone: Literal["auto", "vgg19", "vgg19_random", "l1", "vgg16_hed", "effnet_lite0"] = "auto"
    vgg_weights: str = ""  # torchvision-layout vgg19 state dict (vgg19-dcbb9e9d.pth)
    backbone_file: str = ""  # weights for vgg16_hed / effnet_lite0 ("" = the installed package's file)
    num_scales: int = 4  # image pyramid levels of the perceptual loss
    warp_weight: float = 2.5  # perceptual loss on the warped image
    final_weight: float = 4.0  # perceptual (+ style) loss on the output image
    style_weight: float = 250.0  # Gram style loss, inside the final loss (so 1000 overall)
    # Not official (0 = off): terms for our own models, measured in docs/training.md.
    pixel_weight: float = 0.0  # L1 image pyramid on the output, beside the feature loss
    gan_weight: float = 0.0  # multi-scale PatchGAN on the output, full stage (losses/adversarial.py)
    gan_mode: Literal["hinge", "lsgan"] = "hinge"
    feature_matching_weight: float = 10.0  # L1 on the discriminator's features (with gan_weight > 0)
    disc_scales: int = 2  # discriminators, each at half the resolution of the previous
    disc_layers: int = 3  # stride-2 layers per discriminator
    disc_channels: int = 64  # first layer's width (doubles per layer, at most 512)
    # the SynthHead extractor reads the truth's expression controls off the output (losses/expression.py)
    expression_weight: float = 0.0
    region_weight: float = 0.0  # L1 on the output's mouth and eye windows (the extractor's branches)
    # L1 on the pixels the pair's motion changes (truth vs source beyond change_threshold, grown by
    # change_dilation px), so a mouth that opens weighs 1 + change_weight times the rest (losses/change.py)
    change_weight: float = 0.0
    change_threshold: float = 0.1  # on the [-1, 1] image scale
    change_dilation: int = 3
    change_normalize: Literal["image", "mask"] = "image"  # "mask": each pair averaged over its moved pixels
    expression_extractor: str = ""  # its .safetensors ("" = the shipped one)


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    eps: float = 1e-8
    lr_decay_every: int = 300_000  # StepLR step size, in global steps
    lr_decay_gamma: float = 0.2
    # The official trainer leaves its StepLR on the warp-stage optimizer, so the decay never reaches
    # the optimizer re-created at the stage switch. True reproduces that; False (default) fixes it.
    official_scheduler_quirk: bool = False
    grad_clip: float = 0.0  # max global grad norm; 0 = off (the official recipe does not clip)
    disc_lr: float = 0.0  # the discriminator's Adam lr (same betas), constant; 0 = optim.lr


@dataclass(frozen=True)
class TrainConfig:
    run_dir: str = "runs/pirender"  # config.json, checkpoints/, tensorboard/, model/ go here
    seed: int = 0
    total_steps: int = 400_000  # official: released at iteration 400k
    warp_steps: int = 200_000  # warp-only stage length; optimizer re-created when it ends
    ema_half_life_steps: float = 312.5  # official decay 0.5**(32/10000) per step = half-life 10000/32
    init: Literal["normal", "torch"] = "normal"  # "normal": official N(0, 0.02) weights, zero biases
    # Train mapping.first on standardized coefficients: an exact reparametrization folded away on
    # export (training/standardize.py). Not in the official recipe; the SynthHead presets use it.
    standardize_coeffs: bool = False
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16 = autocast (CUDA, or a CPU with native bf16)
    device: str = "auto"  # auto | cpu | cuda
    checkpoint_every: int = 20_000  # steps between training_state.pt saves
    keep_checkpoints: int = 3  # newest kept; older ones deleted
    log_every: int = 100  # scalar logging period (steps)
    image_every: int = 1000  # image-grid logging period (steps); 0 = never
    tensorboard: bool = True
    renderer: RendererConfig = field(default_factory=RendererConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        if self.total_steps < 1 or self.warp_steps < 0:
            raise InputError("total_steps must be >= 1 and warp_steps >= 0")
        if self.data.size % self.renderer.size_multiple:
            raise InputError(
                f"data.size {self.data.size} must be a multiple of {self.renderer.size_multiple} for this renderer"
            )
        if not (0 <= self.data.near_pair_prob <= 1 and 0 <= self.data.cross_video_prob <= 1):
            raise InputError("data.near_pair_prob and data.cross_video_prob must be in [0, 1]")
        if self.data.near_pair_max_gap < 0:
            raise InputError("data.near_pair_max_gap must be >= 0")
        if not 0 <= self.data.expression_pair_prob <= 1:
            raise InputError("data.expression_pair_prob must be in [0, 1]")
        if not 0 <= self.data.edit_pair_prob <= 1:
            raise InputError("data.edit_pair_prob must be in [0, 1]")
        if not 0 <= self.data.edit_pose_share <= 1:
            raise InputError("data.edit_pose_share must be in [0, 1]")
        if not 0 <= self.data.edit_focus_share <= 1:
            raise InputError("data.edit_focus_share must be in [0, 1]")
        if not 0 <= self.data.edit_neutral_share <= 1:
            raise InputError("data.edit_neutral_share must be in [0, 1]")
        focus_controls(self.data.edit_focus)  # names checked here, once
        if self.data.edit_focus_share > 0 and not self.data.edit_focus:
            raise InputError("data.edit_focus_share > 0 needs data.edit_focus (control names)")
        if self.data.expression_pair_candidates < 2:
            raise InputError("data.expression_pair_candidates must be >= 2")
        if self.data.batch_size < 1 or self.ema_half_life_steps <= 0 or self.checkpoint_every < 1:
            raise InputError("data.batch_size, ema_half_life_steps and checkpoint_every must be positive")
        loss = self.loss
        for name in ("warp_weight", "final_weight", "style_weight", "pixel_weight", "gan_weight",
                     "feature_matching_weight", "expression_weight", "region_weight", "change_weight"):  # fmt: skip
            value = getattr(loss, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"loss.{name} must be a finite number >= 0; got {value!r}")
        if not (math.isfinite(loss.change_threshold) and 0 <= loss.change_threshold < 2):
            raise InputError(f"loss.change_threshold must be in [0, 2); got {loss.change_threshold!r}")
        if loss.change_normalize not in ("image", "mask"):
            raise InputError(
                f"loss.change_normalize must be 'image' or 'mask'; got {loss.change_normalize!r}"
            )
        if loss.change_dilation < 0:
            raise InputError(f"loss.change_dilation must be >= 0; got {loss.change_dilation!r}")
        if min(loss.disc_scales, loss.disc_layers, loss.disc_channels) < 1:
            raise InputError("loss.disc_scales, loss.disc_layers and loss.disc_channels must be >= 1")
        if not (math.isfinite(self.optim.disc_lr) and self.optim.disc_lr >= 0):
            raise InputError(f"optim.disc_lr must be a finite number >= 0; got {self.optim.disc_lr!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Nested dict (as written by to_dict) -> config; unknown keys are rejected."""
        return apply_overrides(cls(), flatten(data))


def focus_controls(names: str) -> tuple[str, ...]:
    """`data.edit_focus` parsed: "smile, blink_left" -> ("smile", "blink_left"); an unknown name is
    an InputError listing the valid ones."""
    from pirender.synth.expression import EXPRESSION_CONTROLS

    controls = tuple(dict.fromkeys(n.strip() for n in names.split(",") if n.strip()))
    unknown = [n for n in controls if n not in EXPRESSION_CONTROLS]
    if unknown:
        raise InputError(
            f"data.edit_focus: unknown control {unknown[0]!r}; choose from {', '.join(EXPRESSION_CONTROLS)}"
        )
    return controls


# Presets: overrides of the official defaults, as dotted keys.
PRESETS: dict[str, dict[str, Any]] = {
    # The official face recipe (spec §3): the defaults, 256 px, 4 GPUs x 5 pairs.
    "official_face": {},
    # Small SynthHead renderer at 128 px: the project's demo model (EMA weights < 20 MB float32).
    "synthhead_small": {
        "data.size": 128,
        "data.batch_size": 4,
        "data.num_workers": 1,
        "renderer.descriptor_nc": 128,
        "renderer.max_nc": 96,
        "renderer.warping_base_nc": 16,
        "renderer.editing_base_nc": 16,
        "renderer.resblock": "fixed",
        "init": "torch",
        "standardize_coeffs": True,
        "total_steps": 3_800,  # the shipped demo renderer: 2,200 warp + 1,600 full steps (docs/training.md)
        "warp_steps": 2_200,
        "ema_half_life_steps": 100.0,
        "optim.lr": 1e-3,
        "optim.lr_decay_every": 3_041,  # x0.2 at 80% of the run
        "checkpoint_every": 500,
        "log_every": 20,
        "image_every": 500,
    },
    # The reference-vector architecture at 64 px: seconds per step on CPU (tests, smoke runs).
    "synthhead_tiny": {
        "data.size": 64,
        "data.batch_size": 2,
        "data.num_workers": 0,
        "renderer.descriptor_nc": 16,
        "renderer.max_nc": 32,
        "renderer.warping_base_nc": 4,
        "renderer.editing_base_nc": 8,
        "init": "torch",
        "standardize_coeffs": True,
        "total_steps": 8,
        "warp_steps": 4,
        "ema_half_life_steps": 10.0,
        "loss.num_scales": 2,
        "checkpoint_every": 4,
        "log_every": 1,
        "image_every": 0,
        "tensorboard": False,
    },
}


def preset(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return apply_overrides(TrainConfig(), PRESETS[name])


def field_types() -> dict[str, Any]:
    """Every overridable dotted key -> its type (from the dataclass annotations)."""
    out: dict[str, Any] = {}

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = hints[f.name]
            if dataclasses.is_dataclass(kind):
                walk(kind, f"{prefix}{f.name}.")
            else:
                out[prefix + f.name] = kind

    walk(TrainConfig, "")
    return out


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def parse_value(key: str, kind: Any, value: Any) -> Any:
    """Convert a string (or JSON value) to the field's type, or raise InputError naming the key."""
    origin = typing.get_origin(kind)
    if origin is Literal:
        choices = typing.get_args(kind)
        if value not in choices:
            raise InputError(f"{key} must be one of {', '.join(map(str, choices))}; got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):  # not used today; keep the error explicit
        raise InputError(f"{key}: union-typed fields are not overridable")
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(str(value).replace("_", "")) if isinstance(value, str) else int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind is str:
            return str(value)
    except ValueError:
        raise InputError(f"{key} expects {kind.__name__}, got {value!r}") from None
    raise InputError(f"{key}: unsupported field type {kind}")


def apply_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """Return a copy of config with dotted-key overrides applied (values may be strings)."""
    kinds = field_types()
    unknown = sorted(set(overrides) - set(kinds))
    if unknown:
        raise InputError(f"unknown config key(s): {', '.join(unknown)} (see `pirender train --dry-run`)")
    nested: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in overrides.items():
        parsed = parse_value(key, kinds[key], value)
        if "." in key:
            section, name = key.split(".", 1)
            nested.setdefault(section, {})[name] = parsed
        else:
            top[key] = parsed
    for section, values in nested.items():  # RendererConfig and TrainConfig raise InputError themselves
        top[section] = dataclasses.replace(getattr(config, section), **values)
    return dataclasses.replace(config, **top)


def parse_assignments(items: list[str]) -> dict[str, str]:
    """["a.b=1", "c=x"] -> {"a.b": "1", "c": "x"}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out
