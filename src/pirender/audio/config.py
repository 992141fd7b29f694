"""Audio-to-motion configuration: one frozen dataclass for the architecture, one for training.

`AudioFlowConfig` is written into every checkpoint (config.json) and is all that is needed to rebuild
the network; `AudioTrainConfig` holds the knobs of one training run and never enters a model file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pirender.audio.features import N_MELS
from pirender.errors import InputError
from pirender.motion.coeffs import MOTION_DIM

_C = TypeVar("_C")

# What the same conditioning (audio window + previous frames) feeds:
#   flow       a conditional Glow over each frame, with an autoregressive Gaussian prior on its latents
#   gaussian   no flow layers: the autoregressive conditional diagonal Gaussian alone (NLL baseline)
#   regressor  the Gaussian's mean only, trained with MSE; deterministic (what the flow adds, issue 7)
MODEL_KINDS = ("flow", "gaussian", "regressor")


@dataclass(frozen=True)
class AudioFlowConfig:
    """Architecture of an audio -> motion model (MotionFlow)."""

    kind: Literal["flow", "gaussian", "regressor"] = "flow"
    motion_dim: int = MOTION_DIM  # exp 64 | angle 3 | trans 3 per frame; the crop comes from the source image
    fps: float = 25.0  # motion frame rate the model was trained at; generation resamples to any other
    n_mels: int = N_MELS
    audio_context: int = 12  # mel frames each side of the frame centre: 25 frames = 250 ms of audio
    audio_channels: int = 16  # pointwise (1x1 conv) projection of each mel frame
    audio_hidden: int = 128  # hidden width of the window layer (a conv whose kernel spans the window)
    audio_dim: int = 64  # audio embedding shared by the flow's couplings and the prior
    history: int = 4  # previous frames the autoregressive prior sees
    flow_steps: int = 6  # ActNorm -> invertible 1x1 -> affine coupling, repeated (kind "flow" only)
    coupling_hidden: int = 128
    scale_bound: float = (
        2.0  # |log scale| of a coupling is at most this (tanh-bounded, keeps inversion stable)
    )
    prior_hidden: int = 128
    log_std_bound: float = 6.0  # |log sigma| of the prior, tanh-bounded
    # Sampling keeps every latent within +-latent_bound (standardised units; training data lies well
    # inside). Without it an autoregression that wanders off the data can feed itself and diverge:
    # the x-space baselines did on 3 of 12 held-out clips.
    latent_bound: float = 8.0

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise InputError(f"AudioFlowConfig.kind must be one of {MODEL_KINDS}, got {self.kind!r}")
        _check_fields(self)
        if self.motion_dim < 2:
            raise InputError("motion_dim must be at least 2 (the coupling splits it in two)")

    @property
    def window(self) -> int:
        """Mel frames per audio window (2 * audio_context + 1)."""
        return 2 * self.audio_context + 1

    @property
    def num_flow_steps(self) -> int:
        return self.flow_steps if self.kind == "flow" else 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AudioFlowConfig:
        return _from_dict(cls, data)


@dataclass(frozen=True)
class AudioTrainConfig:
    """One training run of an audio -> motion model (the data path is an argument, not config)."""

    steps: int = 3000
    batch_size: int = 32  # clips per batch
    crop_frames: int = 32  # target frames per clip (plus `history` frames of context before them)
    lr: float = 2e-3
    lr_final: float = 1e-4  # cosine decay from lr to lr_final over `steps`
    warmup_steps: int = 100
    grad_clip: float = 5.0
    data_noise: float = 0.02  # Gaussian noise on normalised motion: bounds the density of constant dims
    val_fraction: float = 0.1  # held-out clips when the data has no test split
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        _check_fields(self)
        if self.lr_final > self.lr:
            raise InputError("lr_final must not exceed lr")
        if not 0.0 <= self.val_fraction < 1.0:
            raise InputError("val_fraction must be in [0, 1)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AudioTrainConfig:
        return _from_dict(cls, data)


_NON_NEGATIVE = {"warmup_steps", "data_noise", "val_fraction", "seed", "lr_final"}


def _check_fields(obj: Any) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.type in ("int", "float"):
            ok_type = isinstance(value, (int, float)) if f.type == "float" else isinstance(value, int)
            if not ok_type or isinstance(value, bool):
                raise InputError(f"{type(obj).__name__}.{f.name} must be {f.type}, got {value!r}")
            if value < 0 or (value == 0 and f.name not in _NON_NEGATIVE):
                raise InputError(f"{type(obj).__name__}.{f.name} must be positive, got {value!r}")


def _from_dict(cls: type[_C], data: dict[str, Any]) -> _C:
    """Build a config from a dict, rejecting unknown keys (a typo must not fall back to a default)."""
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    return cls(**data)
