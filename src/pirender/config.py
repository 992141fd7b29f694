"""The renderer architecture: one frozen dataclass, the single source of truth for every width.

Defaults are the official face config (`config/face.yaml`, section `gen`), so
`RendererConfig()` builds the architecture of the released weights. Runtime knobs
(device, precision, batch size) never live here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from pirender.errors import InputError

# The side of the crops the released face model was trained on (spec §3/§4); a model folder records
# its own (PIRenderer.image_size), and this is what official checkpoints and old folders without one get.
OFFICIAL_IMAGE_SIZE = 256


@dataclass(frozen=True)
class RendererConfig:
    """Architecture of a PIRenderer generator (mapping, warping and editing networks)."""

    image_nc: int = 3  # image channels (RGB)
    coeff_nc: int = 73  # motion coefficients per frame: exp 64 | angle 3 | trans 3 | crop 3
    descriptor_nc: int = 256  # latent motion descriptor width, shared by all AdaIN layers
    max_nc: int = 256  # channel cap of the warping and editing networks
    adain_hidden_nc: int = 128  # hidden width of every AdaIN MLP (hard-coded in the official code)
    semantic_radius: int = 13  # motion window = 2r+1 frames around the target frame
    mapping_layers: int = 3  # dilated residual conv1d layers of the mapping network
    warping_base_nc: int = 32  # first width of the AdaIN hourglass
    warping_encoder_layers: int = 5
    warping_decoder_layers: int = 3
    editing_base_nc: int = 64
    editing_layers: int = 3
    editing_res_blocks: int = 2
    # "official": the editing res-block returns x + AdaIN(conv2(x)); its conv1/norm1 are kept
    # (checkpoints load) but never computed, exactly as the released weights were trained.
    # "fixed": x + AdaIN2(conv2(lrelu(AdaIN1(conv1(x))))), for new training runs only.
    resblock: Literal["official", "fixed"] = "official"
    # "official": image = tanh(final(x)). "residual" (ours, not in official checkpoints): image =
    # tanh(final(x) + atanh(warped)), so the editing network adds corrections to the warped image
    # instead of redrawing it (a zero final conv returns the warped image; docs/training.md).
    editing_output: Literal["official", "residual"] = "official"
    # Ours, not in official checkpoints: the mapping network also sees the change asked of the source,
    # the driving window's centre frame minus the source image's own coefficients, through a linear
    # layer added to the descriptor (zero-initialised, so switching it on keeps a trained model's
    # output). Without it the renderer must read the source's expression and pose off the image to
    # know how far to move, and trained on pairs both ways it leaves subtle controls unmoved
    # (docs/training.md "Why subtle edits do not move").
    source_conditioning: bool = False

    def __post_init__(self) -> None:
        if self.resblock not in ("official", "fixed"):
            raise InputError(f"resblock must be 'official' or 'fixed', got {self.resblock!r}")
        if self.editing_output not in ("official", "residual"):
            raise InputError(f"editing_output must be 'official' or 'residual', got {self.editing_output!r}")
        if not isinstance(self.source_conditioning, bool):
            raise InputError(f"source_conditioning must be true or false, got {self.source_conditioning!r}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise InputError(f"RendererConfig.{f.name} must be a positive int, got {value!r}")
        if self.window < 6 * self.mapping_layers + 7:
            raise InputError(
                f"semantic_radius {self.semantic_radius} gives a {self.window}-frame window; the mapping "
                f"network with {self.mapping_layers} layers needs at least {6 * self.mapping_layers + 7}"
            )
        if self.warping_decoder_layers > self.warping_encoder_layers:
            raise InputError("warping_decoder_layers cannot exceed warping_encoder_layers")

    @property
    def window(self) -> int:
        """Frames per motion window (27 for the official radius 13)."""
        return 2 * self.semantic_radius + 1

    @property
    def size_multiple(self) -> int:
        """Image height and width must be multiples of this."""
        return max(2**self.warping_encoder_layers, 2**self.editing_layers)

    def check_image_size(self, size: object, what: str = "image size") -> int:
        """`size` if this architecture can render (size, size) images (a positive int multiple of
        size_multiple), else an InputError naming it as `what`."""
        multiple = self.size_multiple
        if isinstance(size, bool) or not isinstance(size, int) or size < multiple or size % multiple:
            raise InputError(f"{what} {size!r} must be a positive multiple of {multiple} for this renderer")
        return size

    @property
    def flow_downsample(self) -> int:
        """Image size / flow-field size (4 for the official config)."""
        return 2 ** (self.warping_encoder_layers - self.warping_decoder_layers)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RendererConfig:
        """Build from a dict, rejecting unknown keys (a typo must not silently fall back to a default)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown RendererConfig keys: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def tiny(cls) -> RendererConfig:
        """The tiny architecture of the reference vectors (64x64 images, 620,685 parameters)."""
        return cls(descriptor_nc=16, max_nc=32, warping_base_nc=4, editing_base_nc=8)
