"""The embedded extractor: a small CNN that reads SynthHead renders back into their coefficients.

Trained by `bench/train_synth_extractor.py` on freshly rendered random identities, poses and
expressions (errors on held-out identities in docs/motion.md). It predicts the named expression
controls of `pirender.synth.EXPRESSION_CONTROLS` (other expression slots are 0, as SynthHead ignores
them), the angles, the translation and the crop values. Shipped inside the package as
`assets/synthhead_extractor.safetensors` + `.json` (architecture, target normalisation, provenance).

Two stages. The global net reads the whole crop resized to `input_size` (antialiased bilinear) and
predicts everything. Optional window branches (`WindowBranchConfig`: the mouth, the eyes and brows)
then refine controls that move only a few pixels of a small part of the face: the crop is resized to
`frame_size` (256, upsampled if smaller), the stage-1 pose, translation and crop place a plane of
head-local points around the mean identity's feature in the image, and that plane, sampled as a
`window` (rows, cols) image, is a frontalised, roll- and scale-normalised view of the feature for a
second small CNN (`WindowNet`), whose outputs replace the global net's for the controls the branch
`replaces`. Checkpoint formats: 1 (the global net alone), 2 (one `mouth` branch), 3 (`branches`);
all load and behave as they did when written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from pirender.errors import CheckpointError, InputError
from pirender.motion.coeffs import ANGLE, COEFF_DIM, CROP, TRANS
from pirender.weights.strict import load_strict

ASSET_DIR = Path(__file__).resolve().parents[2] / "assets"
DEFAULT_WEIGHTS = ASSET_DIR / "synthhead_extractor.safetensors"
FORMAT_VERSION = 3  # 3: a tuple of window branches; 2: one mouth branch; 1: the global net alone


@dataclass(frozen=True)
class WindowBranchConfig:
    """A window branch: where its window lies on the head, its CNN, and the controls it predicts.

    The window is the head-local plane z = centre[2], x in centre[0] +- half_extent[0], y in
    centre[1] +- half_extent[1] (y up), sampled as `window` (rows, cols) pixels from the crop resized
    to `frame_size`.
    """

    name: str
    centre: tuple[float, float, float]
    half_extent: tuple[float, float]
    window: tuple[int, int]  # rows, cols (multiples of 2 ** (len(blocks) + 1))
    frame_size: int = 256  # crops are resized to this before the window is sampled
    widths: tuple[int, ...] = (16, 32, 64, 96)  # stem, then one stage per entry after it
    blocks: tuple[int, ...] = (1, 2, 2)
    control_names: tuple[str, ...] = ()  # controls predicted here, in output order
    control_slots: tuple[int, ...] = ()
    # the outputs that replace the global net's values; the others are only trained alongside, so
    # the branch can tell their effect on the window from that of the replaced ones
    replaces: tuple[str, ...] = ()
    target_mean: tuple[float, ...] = ()  # value = out * std + mean
    target_std: tuple[float, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowBranchConfig:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise CheckpointError(f"unknown branch keys {unknown}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


# The branches' windows (the trained control lists and target scaling are added by the training
# script). Mouth: the mean identity's mouth (y -0.5) with the nostrils above and the chin below,
# about 114 px per head-local unit, a little finer than a 256-px frame. It predicts jaw_open and
# cheek_puff too, which change the lips, but replaces only the five mouth shapes.
MOUTH_BRANCH = WindowBranchConfig(
    name="mouth",
    centre=(0.0, -0.52, 0.40),
    half_extent=(0.42, 0.28),
    window=(64, 96),
    control_names=("smile", "frown", "pucker", "lip_stretch", "mouth_shift", "jaw_open", "cheek_puff"),
    replaces=("smile", "frown", "pucker", "lip_stretch", "mouth_shift"),
)
# Eyes and brows: both eyes (x +-0.27..0.36 with lids +-0.15 wide), both brows (up to y 0.46 when
# raised) and the frown lines between them; z 0.42 is between the surface at the nose bridge (0.5)
# and at the outer eye corners (0.3). About 118 px per head-local unit.
EYES_BRANCH = WindowBranchConfig(
    name="eyes",
    centre=(0.0, 0.25, 0.42),
    half_extent=(0.54, 0.27),
    window=(64, 128),
    widths=(16, 32, 48, 64),
    control_names=("squint", "brow_furrow", "brow_raise", "blink_left", "blink_right"),
    replaces=("squint", "brow_furrow", "brow_raise", "blink_left", "blink_right"),
)


@dataclass(frozen=True)
class SynthHeadNetConfig:
    """Architecture and output meaning of the SynthHead regressor (stored next to its weights)."""

    input_size: int = 128
    widths: tuple[int, ...] = (32, 48, 96, 160, 256)  # stem, then one stage per entry after it
    blocks: tuple[int, ...] = (1, 2, 2, 2)  # residual blocks per stage (stride 2 at each stage start)
    control_names: tuple[str, ...] = ()  # expression controls predicted, in output order
    control_slots: tuple[int, ...] = ()  # their slots in the 64 expression values
    target_mean: tuple[float, ...] = ()  # normalisation of the outputs: value = out * std + mean
    target_std: tuple[float, ...] = ()
    branches: tuple[WindowBranchConfig, ...] = ()  # applied in order after the global net
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def num_outputs(self) -> int:
        return len(self.control_slots) + 9  # controls | angle 3 | trans 3 | crop 3

    def to_json(self) -> str:
        return json.dumps({"format_version": FORMAT_VERSION, **asdict(self)}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> SynthHeadNetConfig:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> SynthHeadNetConfig:
        """A checkpoint's JSON object (any supported format_version) -> config; `stored` is not changed."""
        data = dict(stored)
        version = data.pop("format_version", None)
        if version not in (1, 2, FORMAT_VERSION):
            raise CheckpointError(f"unsupported format_version {version}")
        if version == 2:  # one optional branch under "mouth", its fields without a name
            mouth = data.pop("mouth", None)
            data["branches"] = [] if mouth is None else [{"name": "mouth", **mouth}]
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise CheckpointError(f"unknown keys {unknown}")
        for key in ("widths", "blocks", "control_names", "control_slots", "target_mean", "target_std"):
            data[key] = tuple(data[key])
        data["branches"] = tuple(WindowBranchConfig.from_dict(b) for b in data.get("branches", ()))
        return cls(**data)


def upgrade_state_dict(state: dict[str, torch.Tensor], version: int) -> dict[str, torch.Tensor]:
    """Weights of a format-`version` checkpoint under today's names (format 2: mouth.* -> branches.mouth.*)."""
    if version != 2:
        return state
    return {("branches." + k if k.startswith("mouth.") else k): v for k, v in state.items()}


class ResidualBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus (projected) shortcut; stride on the first conv."""

    def __init__(self, in_channels: int, out_channels: int, *, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def _stem(channels: int) -> nn.Sequential:
    """5x5 stride-2 conv -> BN -> ReLU: (B, 3, H, W) -> (B, channels, H/2, W/2)."""
    return nn.Sequential(
        nn.Conv2d(3, channels, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(channels), nn.ReLU()
    )


def _stages(widths: Sequence[int], blocks: Sequence[int]) -> nn.Sequential:
    """One residual stage per entry of `blocks`, each halving the resolution: widths[i] -> widths[i + 1]."""
    stages = []
    for index, count in enumerate(blocks):
        in_c, out_c = widths[index], widths[index + 1]
        stage = [ResidualBlock(in_c, out_c, stride=2)] + [
            ResidualBlock(out_c, out_c) for _ in range(count - 1)
        ]
        stages.append(nn.Sequential(*stage))
    return nn.Sequential(*stages)


class WindowNet(nn.Module):
    """(B, 3, h, w) window in [-1, 1] -> (B, number of the branch's controls) normalised targets."""

    def __init__(self, config: WindowBranchConfig) -> None:
        super().__init__()
        self.stem = _stem(config.widths[0])
        self.stages = _stages(config.widths, config.blocks)
        # Keep a coarse map (rows/16 x cols/16: 4 x 6 for the mouth, 4 x 8 for the eyes): positions
        # and shapes (mouth_shift, the lip line, the brows' inner ends) would blur in a global average.
        reduction = 2 ** (len(config.blocks) + 1)
        pooled = (config.window[0] // reduction, config.window[1] // reduction)
        self.pool = nn.AdaptiveAvgPool2d(pooled)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(config.widths[-1] * pooled[0] * pooled[1], 128),
            nn.ReLU(),
            nn.Linear(128, len(config.control_slots)),
        )

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """(B, 3, h, w) -> (B, M)."""
        return self.head(self.pool(self.stages(self.stem(window))))


class SynthHeadNet(nn.Module):
    """(B, 3, S, S) image in [-1, 1] -> (B, num_outputs) normalised targets; `branches` by name."""

    def __init__(self, config: SynthHeadNetConfig) -> None:
        super().__init__()
        self.config = config
        widths = config.widths
        self.stem = _stem(widths[0])
        self.stages = _stages(widths, config.blocks)
        # Keep where things are: a coarse spatial map (4x4) instead of a global average, since
        # position and size (trans, crop) are what is being regressed.
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(widths[-1] * 16, 256), nn.ReLU(), nn.Linear(256, config.num_outputs)
        )
        self.branches = nn.ModuleDict({b.name: WindowNet(b) for b in config.branches})

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, C + 9)."""
        return self.head(self.pool(self.stages(self.stem(image))))


def prepare_images(frames: Sequence[np.ndarray] | np.ndarray, size: int) -> torch.Tensor:
    """(T, H, W, 3) uint8 square crops -> (T, 3, size, size) float in [-1, 1] (antialiased resize)."""
    batch = []
    for frame in frames:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(f"expected (H, W, 3) uint8 frames, got {frame.shape} {frame.dtype}")
        if frame.shape[0] != size or frame.shape[1] != size:
            frame = np.asarray(
                Image.fromarray(frame).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
            )
        batch.append(frame)
    array = np.stack(batch).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def window_grid(coeffs: np.ndarray, config: WindowBranchConfig) -> torch.Tensor:
    """Where a branch window's pixels lie in a frame_size crop, for grid_sample.

    Args:
        coeffs: (B, 73) coefficients (their angle, trans and crop place the head).
        config: the window's head-local plane and size.
    Returns:
        (B, h, w, 2) float32 sampling grid, (x, y) in [-1, 1] (align_corners=False).
    """
    from pirender.motion.camera import project

    rows, cols = config.window
    (cx, cy, cz), (hx, hy) = config.centre, config.half_extent
    # pixel centres of the window on the head-local plane, row 0 at the top (largest y)
    xs = cx + hx * (2 * (np.arange(cols) + 0.5) / cols - 1)
    ys = cy - hy * (2 * (np.arange(rows) + 0.5) / rows - 1)
    gx, gy = np.meshgrid(xs, ys)
    points = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, cz)], axis=1)  # (h*w, 3)
    size = config.frame_size
    grids = [(2 * project(points, c, size) + 1) / size - 1 for c in np.asarray(coeffs, dtype=np.float64)]
    return torch.from_numpy(np.stack(grids).astype(np.float32)).reshape(len(grids), rows, cols, 2)


def cut_windows(frames: torch.Tensor, coeffs: np.ndarray, config: WindowBranchConfig) -> torch.Tensor:
    """(B, 3, frame_size, frame_size) crops in [-1, 1], (B, 73) coeffs -> (B, 3, h, w) windows."""
    assert frames.shape[-2:] == (config.frame_size, config.frame_size), frames.shape
    grid = window_grid(coeffs, config).to(frames.device)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=False)


def targets_from_coeffs(coeffs: np.ndarray, control_slots: Sequence[int]) -> np.ndarray:
    """(N, 73) coefficients -> (N, C + 9) regression targets [controls | angle | trans | crop]."""
    coeffs = np.asarray(coeffs, dtype=np.float32)
    return np.concatenate(
        [coeffs[:, list(control_slots)], coeffs[:, ANGLE], coeffs[:, TRANS], coeffs[:, CROP]], axis=1
    )


def coeffs_from_targets(targets: np.ndarray, control_slots: Sequence[int]) -> np.ndarray:
    """Inverse of targets_from_coeffs: (N, C + 9) -> (N, 73), unnamed expression slots 0."""
    targets = np.asarray(targets, dtype=np.float32)
    n, c = len(targets), len(control_slots)
    coeffs = np.zeros((n, COEFF_DIM), dtype=np.float32)
    coeffs[:, list(control_slots)] = targets[:, :c]
    coeffs[:, ANGLE] = targets[:, c : c + 3]
    coeffs[:, TRANS] = targets[:, c + 3 : c + 6]
    coeffs[:, CROP] = targets[:, c + 6 : c + 9]
    return coeffs


class SynthHeadExtractor:
    """SynthHead renders -> (T, 73) coefficients with the shipped (or a given) regressor."""

    name = "synthhead"

    def __init__(
        self, net: SynthHeadNet, *, batch_size: int = 32, device: str | torch.device = "cpu"
    ) -> None:
        self.net = net.eval().to(device)
        self.config = net.config
        self.batch_size = batch_size
        self.device = torch.device(device)
        self._mean = torch.tensor(self.config.target_mean, dtype=torch.float32)
        self._std = torch.tensor(self.config.target_std, dtype=torch.float32)
        # each branch's output scaling: name -> (mean, std), (M,) each
        self._branch_scale = {
            b.name: (torch.tensor(b.target_mean), torch.tensor(b.target_std)) for b in self.config.branches
        }

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, *, device: str | torch.device = "cpu"
    ) -> SynthHeadExtractor:
        """Load weights (.safetensors) and their config (same name, .json); default: the shipped ones."""
        from pirender.weights.files import read_model_files

        weights = Path(path) if path is not None else DEFAULT_WEIGHTS
        config_path = weights.with_suffix(".json")
        if not weights.is_file() or not config_path.is_file():
            raise CheckpointError(f"SynthHead extractor not found: need {weights} and {config_path}")
        stored, state = read_model_files(config_path, weights, what="SynthHead extractor")
        try:
            config = SynthHeadNetConfig.from_dict(stored)
        except (CheckpointError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise CheckpointError(f"{config_path}: bad extractor config ({e})") from None
        net = SynthHeadNet(config)
        state = upgrade_state_dict(state, stored["format_version"])
        load_strict(net, state, weights, what="SynthHead extractor")
        return cls(net, device=device)

    @torch.no_grad()
    def extract(self, frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """(T, S, S, 3) uint8 face crops -> (T, 73) float32 (crop values for 256 px frames)."""
        frames = list(frames)
        if not frames:
            raise InputError("no frames to extract motion from")
        outputs = []
        for start in range(0, len(frames), self.batch_size):
            chunk = frames[start : start + self.batch_size]
            # 1. global net: everything, from the crop at input_size
            batch = prepare_images(chunk, self.config.input_size)
            targets = self.net(batch.to(self.device)).cpu() * self._std + self._mean
            coeffs = coeffs_from_targets(targets.numpy(), self.config.control_slots)
            # 2. window branches: some controls again, from windows placed with stage 1's pose
            frames_hi: dict[int, torch.Tensor] = {}  # the chunk resized to each branch's frame_size
            for branch in self.config.branches:
                if branch.frame_size not in frames_hi:
                    frames_hi[branch.frame_size] = prepare_images(chunk, branch.frame_size).to(self.device)
                windows = cut_windows(frames_hi[branch.frame_size], coeffs, branch)
                mean, std = self._branch_scale[branch.name]
                values = (self.net.branches[branch.name](windows).cpu() * std + mean).numpy()
                for index, (name, slot) in enumerate(
                    zip(branch.control_names, branch.control_slots, strict=True)
                ):
                    if name in branch.replaces:
                        coeffs[:, slot] = values[:, index]
            outputs.append(coeffs)
        return np.concatenate(outputs)
