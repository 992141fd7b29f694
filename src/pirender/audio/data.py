"""(audio, motion) clips for training the audio -> motion models, and the crops a training step sees.

Two on-disk sources:
  * an LMDB in the official VoxCeleb layout (`pirender synth --talking`, or real videos whose motion
    was extracted) read through `pirender.data.lmdb_schema.VoxLMDB`: motion from `<video>-coeff_3dmm`,
    speech from the video's audio record; the `test` split is the held-out set;
  * a folder of pairs `NAME.npz` (array `motion` (T, 70 | 73), optional scalar `fps`) beside
    `NAME.{wav,flac,mp3,ogg,m4a,mp4,mov,mkv,webm}` (speech, or a video whose audio track is used).

Batches are a pure function of (seed, step), so a resumed run sees exactly the batches an
uninterrupted one would.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pirender.audio.features import log_mel, pad_silence, window_index
from pirender.errors import InputError
from pirender.media.audio import load_audio
from pirender.motion.coeffs import MOTION_DIM

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".mp4", ".mov", ".mkv", ".webm", ".avi")
START_CROP_PROBABILITY = (
    0.125  # share of crops that begin at frame 0, so clip starts (empty history) are learnt
)


@dataclass(frozen=True)
class MotionAudioClip:
    """One talking clip: motion (T, 70) float32 in coefficient units and its log-mel (M, n_mels)."""

    name: str
    motion: np.ndarray
    mel: torch.Tensor
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])


def make_clip(
    name: str, motion: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float
) -> MotionAudioClip:
    """Build a clip from motion (T, 70 | 73 | more; the first 70 columns are used) and mono audio (N,)."""
    motion = np.asarray(motion, dtype=np.float32)
    if motion.ndim != 2 or motion.shape[1] < MOTION_DIM:
        raise InputError(f"{name}: expected motion of shape (T, >= {MOTION_DIM}), got {motion.shape}")
    if not np.all(np.isfinite(motion)):
        raise InputError(f"{name}: motion contains NaN or infinite values")
    return MotionAudioClip(
        name, np.ascontiguousarray(motion[:, :MOTION_DIM]), log_mel(samples, sample_rate), fps
    )


def load_clips(
    path: str | os.PathLike[str], *, fps: float
) -> tuple[list[MotionAudioClip], list[MotionAudioClip]]:
    """Read a dataset: (train clips, held-out clips); held-out is empty unless the data has a test split.

    Args:
        path: an LMDB root (official layout) or a folder of NAME.npz + NAME.<audio|video> pairs.
        fps: motion frame rate of clips that do not record one (LMDB `<video>-fps` key, .npz `fps`).
    """
    root = Path(path)
    if not root.exists():
        raise InputError(f"training data not found: {root}")
    if not root.is_dir():
        raise InputError(f"training data must be a directory (LMDB root or folder of pairs): {root}")
    if any(root.glob("*.npz")):
        return _load_folder(root, fps=fps), []
    return _load_lmdb(root, "train", fps=fps), _load_lmdb(root, "test", fps=fps, required=False)


def _load_folder(root: Path, *, fps: float) -> list[MotionAudioClip]:
    clips = []
    for npz in sorted(root.glob("*.npz")):
        audio = next((p for p in (npz.with_suffix(s) for s in AUDIO_SUFFIXES) if p.exists()), None)
        if audio is None:
            raise InputError(f"{npz} has no audio beside it (expected {npz.stem}.wav, .flac, .mp4, ...)")
        try:
            with np.load(npz) as data:
                motion = data["motion"]
                clip_fps = float(data["fps"]) if "fps" in data.files else fps
        except (OSError, ValueError, KeyError) as e:
            raise InputError(f"cannot read motion from {npz} (needs an array 'motion'): {e}") from e
        samples, rate = load_audio(audio)
        clips.append(make_clip(npz.stem, motion, samples, rate, clip_fps))
    return clips


def _load_lmdb(root: Path, split: str, *, fps: float, required: bool = True) -> list[MotionAudioClip]:
    from pirender.data.lmdb_schema import VoxLMDB  # the LMDB key format lives in one place

    db = VoxLMDB(root)  # InputError naming the directory when it is not an LMDB
    if not required and not (root / "test_list.txt").is_file():
        return []
    videos = db.videos(split)
    clips = []
    for video in videos:
        audio = db.audio(video)
        if audio is not None:
            clips.append(make_clip(video, db.motion(video), audio[0], audio[1], db.fps(video) or fps))
    if required and not clips:
        raise InputError(f"no {split} video with audio in {root} ({len(videos)} videos without audio)")
    return clips


def split_clips(
    clips: Sequence[MotionAudioClip], fraction: float, *, seed: int
) -> tuple[list[MotionAudioClip], list[MotionAudioClip]]:
    """Hold out round(fraction * N) clips (at least one when fraction > 0 and N > 1), chosen by seed."""
    n_val = min(len(clips) - 1, max(1 if fraction > 0 else 0, round(fraction * len(clips))))
    order = np.random.default_rng(seed).permutation(len(clips))
    val = set(order[:n_val].tolist())
    return [c for i, c in enumerate(clips) if i not in val], [c for i, c in enumerate(clips) if i in val]


def statistics(clips: Sequence[MotionAudioClip]) -> dict[str, torch.Tensor]:
    """Per-dimension mean and std of motion (70,) and log-mel (n_mels,) over all frames of the clips."""
    motion = torch.from_numpy(np.concatenate([c.motion for c in clips])).double()
    mel = torch.cat([c.mel for c in clips]).double()
    return {
        "motion_mean": motion.mean(0).float(),
        "motion_std": motion.std(0).float(),
        "mel_mean": mel.mean(0).float(),
        "mel_std": mel.std(0).float(),
    }


class CropSampler:
    """Random training crops: `history` frames of context followed by `crop_frames` target frames."""

    def __init__(
        self,
        clips: Sequence[MotionAudioClip],
        *,
        history: int,
        crop_frames: int,
        batch_size: int,
        audio_context: int,
        seed: int,
    ) -> None:
        self.clips = [c for c in clips if c.num_frames >= crop_frames]
        if not self.clips:
            raise InputError(f"no training clip has the {crop_frames} frames a crop needs")
        self.history, self.crop_frames, self.batch_size = history, crop_frames, batch_size
        self.audio_context, self.seed = audio_context, seed
        starts = np.array([c.num_frames - crop_frames + 1 for c in self.clips], dtype=np.float64)
        self.clip_weights = starts / starts.sum()  # every crop position equally likely

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch of training step `step`.

        Returns:
            motion (B, H+L, 70), valid (B, H+L) bool, mel (B, S, n_mels) log-mel segments,
            mel_index (B, H+L, W) rows of `mel` in each frame's audio window.
        """
        rng = np.random.default_rng([self.seed, step])
        picks = rng.choice(len(self.clips), size=self.batch_size, p=self.clip_weights)
        crops = []
        for i in picks:
            clip = self.clips[i]
            start = (
                0
                if rng.random() < START_CROP_PROBABILITY
                else rng.integers(0, clip.num_frames - self.crop_frames + 1)
            )
            frames = torch.arange(start - self.history, start + self.crop_frames)
            crops.append(_frames_batch(clip, frames, self.audio_context))
        return collate(crops)


def clip_batch(clip: MotionAudioClip, *, history: int, audio_context: int) -> dict[str, torch.Tensor]:
    """A whole clip as one teacher-forced sequence (every frame a target): batch of B = 1."""
    return collate([_frames_batch(clip, torch.arange(-history, clip.num_frames), audio_context)])


def _frames_batch(clip: MotionAudioClip, frames: torch.Tensor, audio_context: int) -> dict[str, torch.Tensor]:
    padded = pad_silence(clip.mel, audio_context)  # cheap: one concat of a clip's mel
    index = window_index(frames, clip.fps, audio_context, padded.shape[0])  # (F, W)
    first, last = int(index.min()), int(index.max())
    return {
        "motion": torch.from_numpy(clip.motion[frames.clamp(0, clip.num_frames - 1).numpy()]),
        "valid": frames >= 0,
        "mel": padded[first : last + 1],
        "mel_index": index - first,
    }


def collate(items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack crops; mel segments of different lengths are padded at the end (no index points there)."""
    length = max(item["mel"].shape[0] for item in items)
    mel = torch.stack(
        [torch.nn.functional.pad(item["mel"], (0, 0, 0, length - item["mel"].shape[0])) for item in items]
    )
    batch = {k: torch.stack([item[k] for item in items]) for k in ("motion", "valid", "mel_index")}
    return {**batch, "mel": mel}
