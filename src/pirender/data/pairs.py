"""Training and evaluation pairs over an official-layout LMDB (spec §4; real VoxCeleb or SynthHead).

Training (`PairDataset` + `StepBatchSampler`): a pair is two frames of one video, each with its
73-value coefficient window (radius 13, indices clamped at the ends); optionally the source frame
comes from another video of the same identity. As in the official sampler an identity is drawn first,
then one of its videos, then two independent frames (which may coincide). Optionally (not official) a
share of the pairs are near pairs: the target frame lies within `near_pair_max_gap` frames of the source,
so the generator also sees small motions, where the right output keeps the source's detail. And
optionally (not official) a share are expression pairs: of `expression_pair_candidates` frames of the
target's video, the source is the one whose expression coefficients differ most (L1) from the
target's, so the rare large expression changes (a mouth opening from closed) are trained often
enough to be learnt. And on SynthHead data only, optionally (not official) a share are edit pairs:
the target frame's head, pose and framing, its expression edited, both images rendered by SynthHead:
half still-photo edits with constant windows (`synth.motion.random_edit`, what `pirender edit` asks
of a renderer), half video edits whose windows move (`synth.motion.random_track_edit`, what a dub
asks). No augmentation.

The draw for slot j of step s on rank r uses its own RNG seeded with (seed, r, s, j): the data order
is a pure function of the step, so resuming at step s reproduces it exactly, whatever the number of
workers, with no sampler state to save. The LMDB is opened lazily in each worker (VoxLMDB), and the
JPEG decoding happens in the workers.

Evaluation (`eval_items` + `EvalDataset`): the official inference protocol — source = frame 0 of a
test video; same-identity drives it with the frames of its own video (ground truth = those frames);
cross-identity drives frame 0 of a video of another person with a video's motion, the crop scale
rescaled as the official inference does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pirender.data.lmdb_schema import VoxLMDB
from pirender.errors import InputError
from pirender.motion.coeffs import ANGLE, CROP, EXP, SEMANTIC_RADIUS, motion_windows

PairKey = tuple[int, int, int, int]  # (seed, rank, step, slot)


def identity_of(video: str) -> str:
    """VoxCeleb names are person#youtube#start#end: the identity is the part before the first '#'."""
    return video.split("#", 1)[0]


def image_tensor(frame: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 in [-1, 1] (the official ToTensor + Normalize(0.5, 0.5))."""
    return torch.from_numpy(np.array(frame, dtype=np.uint8)).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


class _VideoSource:
    """Shared LMDB access with a per-process cache of each video's (T, 73) motion."""

    def __init__(self, root: str, *, split: str, size: int | None, radius: int) -> None:
        self.root, self.split, self.size, self.radius = root, split, size, radius
        self.db = VoxLMDB(root, size=size)
        self.videos = list(self.db.videos(split))
        if not self.videos:
            raise InputError(f"{root}: the {split} split lists no videos")
        by_id: dict[str, list[str]] = {}
        for video in self.videos:
            by_id.setdefault(identity_of(video), []).append(video)
        self.identities = sorted(by_id)
        self.videos_of = {k: sorted(v) for k, v in by_id.items()}
        self._motion: dict[str, np.ndarray] = {}

    def motion(self, video: str) -> np.ndarray:
        if video not in self._motion:
            self._motion[video] = self.db.motion(video)
        return self._motion[video]

    def window(self, video: str, index: int) -> torch.Tensor:
        """(73, 2r+1) float32 coefficient window centred on frame `index`."""
        return torch.from_numpy(motion_windows(self.motion(video), np.array([index]), self.radius)[0])

    def image(self, video: str, index: int) -> torch.Tensor:
        return image_tensor(self.db.frame(video, index))


class PairDataset(torch.utils.data.Dataset):
    """Training pairs; indexed by PairKey from StepBatchSampler.

    Item: source_image, target_image (3, H, W) in [-1, 1]; source_coeffs, target_coeffs (73, 2r+1).
    """

    def __init__(
        self,
        root: str,
        *,
        split: str = "train",
        size: int | None = None,
        radius: int = SEMANTIC_RADIUS,
        cross_video_prob: float = 0.0,
        near_pair_prob: float = 0.0,
        near_pair_max_gap: int = 2,
        expression_pair_prob: float = 0.0,
        expression_pair_candidates: int = 8,
        edit_pair_prob: float = 0.0,
        edit_pose_share: float = 0.0,
        edit_focus: Sequence[str] = (),
        edit_focus_share: float = 0.0,
        edit_neutral_share: float = 0.0,
    ) -> None:
        self.source = _VideoSource(root, split=split, size=size, radius=radius)
        self.edit_pair_prob, self.edit_pose_share = edit_pair_prob, edit_pose_share
        self.edit_focus, self.edit_focus_share = tuple(edit_focus), edit_focus_share
        self.edit_neutral_share = edit_neutral_share
        if edit_pair_prob > 0:
            bad = [video for video in self.source.videos if synth_identity_seed(video) is None]
            if bad:
                raise InputError(f"{root}: edit pairs need `pirender synth` video names, got {bad[0]!r}")
            self.heads = _SynthHeads(self.source.db.size)
        self.cross_video_prob = cross_video_prob
        self.near_pair_prob, self.near_pair_max_gap = near_pair_prob, near_pair_max_gap
        self.expression_pair_prob = expression_pair_prob
        self.expression_pair_candidates = expression_pair_candidates

    def __len__(self) -> int:
        return len(self.source.videos)

    def coefficient_rows(self) -> np.ndarray:
        """(N, 73) float32: the coefficients of every frame of every video of the split."""
        return np.concatenate([self.source.motion(video) for video in self.source.videos])

    def draw(self, key: PairKey) -> tuple[str, int, str, int]:
        """-> (source video, source frame, target video, target frame) for this key."""
        src = self.source
        rng = np.random.default_rng([int(k) for k in key])
        identity = src.identities[int(rng.integers(len(src.identities)))]
        videos = src.videos_of[identity]
        target_video = videos[int(rng.integers(len(videos)))]
        cross = rng.random() < self.cross_video_prob and len(videos) > 1
        source_video = target_video
        if cross:
            others = [v for v in videos if v != target_video]
            source_video = others[int(rng.integers(len(others)))]
        target_frame = int(rng.integers(src.db.num_frames(target_video)))
        source_frame = int(rng.integers(src.db.num_frames(source_video)))
        # Drawn only when enabled, so runs without near pairs keep their exact data order.
        if self.near_pair_prob > 0 and rng.random() < self.near_pair_prob:
            gap = int(rng.integers(-self.near_pair_max_gap, self.near_pair_max_gap + 1))
            source_video = target_video
            source_frame = int(np.clip(target_frame + gap, 0, src.db.num_frames(target_video) - 1))
        elif self.expression_pair_prob > 0 and rng.random() < self.expression_pair_prob:
            source_video = target_video
            exp = src.motion(target_video)[:, EXP]
            candidates = rng.integers(len(exp), size=self.expression_pair_candidates)
            distance = np.abs(exp[candidates] - exp[target_frame]).sum(axis=1)
            source_frame = int(candidates[int(np.argmax(distance))])
        return source_video, source_frame, target_video, target_frame

    def edit(self, key: PairKey) -> tuple[str, torch.Tensor, torch.Tensor] | None:
        """-> (video, source window, target window), each (73, 2r+1), when this key's pair is an edit
        pair, else None; the images are the SynthHead renders of the windows' centres.

        A share `edit_pose_share` of them are pose edits of the video (`synth.motion.random_pose_edit`:
        its head motion damped or turned a few degrees, real windows); of the rest, half are still-photo
        edits (`synth.motion.random_edit`, constant windows), half video edits of the expression
        (`synth.motion.random_track_edit`: tracks of another video of the split, real windows). A share
        `edit_focus_share` of those expression edits move only the `edit_focus` controls, and a share
        `edit_neutral_share` of the still edits start from the neutral frontal face. Drawn from its
        own RNG stream, so enabling edit pairs leaves the other pairs' draws as they were (and a share
        of 0 draws nothing for it, so runs without pose or focused edits draw as before).
        """
        if self.edit_pair_prob <= 0:
            return None
        rng = np.random.default_rng([*(int(k) for k in key), 0xED17])
        if rng.random() >= self.edit_pair_prob:
            return None
        _, _, video, frame = self.draw(key)
        from pirender.synth.motion import random_edit, random_pose_edit, random_track_edit

        src, motion = self.source, self.source.motion(video)
        if self.edit_pose_share > 0 and rng.random() < self.edit_pose_share:
            windows = _real_windows(motion, random_pose_edit(rng, motion), frame, src.radius)
        else:
            focused = self.edit_focus_share > 0 and rng.random() < self.edit_focus_share
            controls = self.edit_focus if focused else ()
            if rng.random() < 0.5:
                still = motion[frame]
                if self.edit_neutral_share > 0 and rng.random() < self.edit_neutral_share:
                    from pirender.synth import neutral_coeffs

                    still = neutral_coeffs()  # the neutral frontal face, as a portrait photo
                source, target = random_edit(rng, still, controls)
                windows = np.repeat(np.stack([source, target])[:, :, None], 2 * src.radius + 1, 2)
            else:
                # the donor may be the clip itself, at an offset
                donor = src.motion(src.videos[int(rng.integers(len(src.videos)))])
                edited = random_track_edit(rng, motion, donor, controls)
                windows = _real_windows(motion, edited, frame, src.radius)
        source_window, target_window = torch.from_numpy(windows)
        return video, source_window, target_window

    def __getitem__(self, key: PairKey) -> dict[str, torch.Tensor]:
        src = self.source
        edit = self.edit(key)
        if edit is not None:
            video, source, target = edit
            centre = src.radius
            return {
                "source_image": self.heads.render(video, source[:, centre].numpy()),
                "target_image": self.heads.render(video, target[:, centre].numpy()),
                "source_coeffs": source,
                "target_coeffs": target,
            }
        source_video, source_frame, target_video, target_frame = self.draw(key)
        return {
            "source_image": src.image(source_video, source_frame),
            "target_image": src.image(target_video, target_frame),
            "source_coeffs": src.window(source_video, source_frame),
            "target_coeffs": src.window(target_video, target_frame),
        }


def _real_windows(motion: np.ndarray, edited: np.ndarray, frame: int, radius: int) -> np.ndarray:
    """(T, 73) clip and its edited copy -> (2, 73, 2r+1): both windows around `frame`."""
    return np.stack([motion_windows(m, np.array([frame]), radius)[0] for m in (motion, edited)])


class StepBatchSampler(torch.utils.data.Sampler[list[PairKey]]):
    """Yields, for steps start_step .. end_step-1, the batch of keys (seed, rank, step, slot)."""

    def __init__(self, *, batch_size: int, seed: int, rank: int, start_step: int, end_step: int) -> None:
        self.batch_size, self.seed, self.rank = batch_size, seed, rank
        self.start_step, self.end_step = start_step, end_step

    def __iter__(self) -> Iterator[list[PairKey]]:
        for step in range(self.start_step, self.end_step):
            yield [(self.seed, self.rank, step, slot) for slot in range(self.batch_size)]

    def __len__(self) -> int:
        return max(0, self.end_step - self.start_step)


@dataclass(frozen=True)
class EvalItem:
    source_video: str
    source_frame: int
    driving_video: str
    driving_frame: int
    cross_id: bool


def eval_items(
    db: VoxLMDB,
    *,
    split: str = "test",
    cross_id: bool = False,
    frames_per_video: int = 8,
    max_videos: int = 0,
) -> list[EvalItem]:
    """The evaluation protocol as a list of items (deterministic).

    Same-identity: source frame 0 of each video, `frames_per_video` evenly spaced driving frames of
    the same video from frame 1 on (their images are the ground truth). Cross-identity: the source is frame 0 of the
    first video of the next identity in sorted order, driven by each video's frames.
    """
    videos = sorted(db.videos(split))
    if max_videos:
        videos = videos[:max_videos]
    if not videos:
        raise InputError(f"{db.root}: the {split} split lists no videos")
    by_id: dict[str, list[str]] = {}
    for v in sorted(db.videos(split)):
        by_id.setdefault(identity_of(v), []).append(v)
    ids = sorted(by_id)
    if cross_id and len(ids) < 2:
        raise InputError(f"{db.root}: cross-identity evaluation needs two identities in {split}")
    items = []
    for video in videos:
        source_video = video
        if cross_id:
            source_video = by_id[ids[(ids.index(identity_of(video)) + 1) % len(ids)]][0]
        count = db.num_frames(video)
        # Frame 0 is the source: driving with it would score copy-source perfectly, so skip it.
        first = 1 if count > 1 else 0
        frames = np.unique(
            np.linspace(first, count - 1, min(frames_per_video, count - first)).round().astype(int)
        )
        items += [EvalItem(source_video, 0, video, int(f), cross_id) for f in frames]
    return items


def cross_id_motion(source_motion: np.ndarray, driving_motion: np.ndarray) -> np.ndarray:
    """Official cross-identity crop adjustment (spec §5): rescale the driving crop scale s by
    s_source / s_driving at the driving frame closest to the source (0.3·|Δexp| + 0.7·|Δangle|).

    source_motion: (T_s, 73), frame 0 is the source; driving_motion: (T, 73) -> (T, 73).
    """
    src = source_motion[0]
    distance = 0.3 * np.abs(driving_motion[:, EXP] - src[EXP]).mean(1) + 0.7 * np.abs(
        driving_motion[:, ANGLE] - src[ANGLE]
    ).mean(1)
    nearest = int(np.argmin(distance))
    out = driving_motion.copy()
    out[:, CROP.start] *= src[CROP.start] / driving_motion[nearest, CROP.start]
    return out


SYNTH_VIDEO = re.compile(r"synth(\d{5})#v\d{3}")


def synth_identity_seed(video: str) -> int | None:
    """The SynthHead identity seed of a `pirender synth` video name, else None."""
    match = SYNTH_VIDEO.fullmatch(video)
    return int(match.group(1)) if match else None


class _SynthHeads:
    """SynthHead renders of the identities of a `pirender synth` LMDB, one head per identity, cached
    (the caller checks that its videos carry `pirender synth` names)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._heads: dict[int, Any] = {}

    def render(self, video: str, coeffs: np.ndarray) -> torch.Tensor:
        """-> (3, H, W) in [-1, 1]: the video's identity rendered with (73,) coefficients."""
        from pirender.synth.head import SynthHead

        seed = synth_identity_seed(video)
        if seed not in self._heads:
            self._heads[seed] = SynthHead(seed, self.size)
        return image_tensor(self._heads[seed].render(coeffs))


class EvalDataset(torch.utils.data.Dataset):
    """Item: source_image (3,H,W), driving_coeffs (73, 2r+1), target_image (3,H,W).

    target_image is the ground truth: the driving frame for same-identity items. For cross-identity
    items there is none in an LMDB; with `synth_truth` (SynthHead data only) it is rendered: the
    source's identity with the (crop-adjusted) driving coefficients. Otherwise it is the driving frame
    (usable for motion metrics only). `has_truth` says which.
    """

    def __init__(
        self,
        root: str,
        items: list[EvalItem],
        *,
        split: str = "test",
        size: int | None = None,
        radius: int = SEMANTIC_RADIUS,
        synth_truth: bool = False,
    ) -> None:
        self.source = _VideoSource(root, split=split, size=size, radius=radius)
        self.items = items
        self.synth_truth = synth_truth
        self.has_truth = synth_truth or not any(item.cross_id for item in items)
        self._cross: dict[tuple[str, str], np.ndarray] = {}
        if synth_truth:
            bad = [i.source_video for i in items if synth_identity_seed(i.source_video) is None]
            if bad:
                raise InputError(f"synth_truth needs `pirender synth` video names, got {bad[0]!r}")
            self.heads = _SynthHeads(self.source.db.size)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = self.items[index]
        src = self.source
        if item.cross_id:
            key = (item.source_video, item.driving_video)
            if key not in self._cross:
                self._cross[key] = cross_id_motion(
                    src.motion(item.source_video), src.motion(item.driving_video)
                )
            window = motion_windows(self._cross[key], np.array([item.driving_frame]), src.radius)[0]
            coeffs = torch.from_numpy(window)
        else:
            coeffs = src.window(item.driving_video, item.driving_frame)
        if item.cross_id and self.synth_truth:
            target = self.heads.render(item.source_video, self._cross[key][item.driving_frame])
        else:
            target = src.image(item.driving_video, item.driving_frame)
        return {
            "index": torch.tensor(index),
            "source_image": src.image(item.source_video, item.source_frame),
            "source_coeffs": torch.from_numpy(
                np.asarray(src.motion(item.source_video)[item.source_frame], dtype=np.float32)
            ),  # (73,) the source image's own, for a source-conditioned renderer
            "driving_coeffs": coeffs,
            "target_image": target,
        }
