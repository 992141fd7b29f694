"""Write SynthHead videos as an official-layout LMDB (see pirender.data.lmdb_schema).

Identity i has seed `seed + i` and its videos are named `synth{seed + i:05d}#v{j:03d}`, so the
person id is `synth{seed + i:05d}`. The split is by identity: the last `round(N * test_fraction)`
identities (at least one when N >= 2) go to test, all their videos with them. Each video's motion
comes from `random_motion` (or `talking_clip` with talking=True, which also stores the WAV in the
`<video>-audio_wav` key) with a seed derived from (identity seed, video index). The LMDB is built in
a temporary directory beside OUT and renamed into place when complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pirender.data.lmdb_schema import VoxLMDBWriter, encode_jpeg
from pirender.errors import InputError
from pirender.media.atomic import atomic_dir
from pirender.motion.coeffs import to_lmdb_rows
from pirender.synth.audio import talking_clip
from pirender.synth.head import SynthHead
from pirender.synth.motion import edit_motion, random_motion


@dataclass(frozen=True)
class SynthDatasetSpec:
    """What `write_dataset` produces; validated on construction."""

    identities: int
    videos_per_identity: int
    frames: int
    size: int = 256
    talking: bool = False
    edit_videos: int = 0  # per identity, extra videos of expression edits (`edit_motion`)
    seed: int = 0
    fps: float = 25.0
    test_fraction: float = 0.1

    def __post_init__(self) -> None:
        checks = [
            (self.identities >= 1, f"--identities must be >= 1, got {self.identities}"),
            (
                self.videos_per_identity >= 1,
                f"--videos-per-identity must be >= 1, got {self.videos_per_identity}",
            ),
            (self.frames >= 1, f"--frames must be >= 1, got {self.frames}"),
            (self.edit_videos >= 0, f"--edit-videos must be >= 0, got {self.edit_videos}"),
            (16 <= self.size <= 1024, f"--size must be between 16 and 1024, got {self.size}"),
            (self.seed >= 0, f"--seed must be >= 0, got {self.seed}"),
            (0 < self.fps <= 240, f"--fps must be in (0, 240], got {self.fps}"),
            (0.0 <= self.test_fraction < 1.0, f"--test-fraction must be in [0, 1), got {self.test_fraction}"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)

    def num_test(self) -> int:
        if self.identities < 2 or self.test_fraction == 0:
            return 0
        return min(self.identities - 1, max(1, round(self.identities * self.test_fraction)))


def video_name(identity_seed: int, index: int) -> str:
    return f"synth{identity_seed:05d}#v{index:03d}"


def video_seed(identity_seed: int, index: int) -> int:
    return int(np.random.SeedSequence([identity_seed, index, 0x71DE0]).generate_state(1)[0])


def write_dataset(
    out: str | os.PathLike[str],
    spec: SynthDatasetSpec,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Render and write the dataset; `progress(n)` is called after every n frames. Returns OUT."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"-o exists and is not a directory: {out}")
    first_test = spec.identities - spec.num_test()
    with atomic_dir(out) as tmp:
        with VoxLMDBWriter(tmp, spec.size) as writer:
            for i in range(spec.identities):
                identity_seed = spec.seed + i
                head = SynthHead(identity_seed, spec.size)
                split = "test" if i >= first_test else "train"
                for j in range(spec.videos_per_identity + spec.edit_videos):
                    seed = video_seed(identity_seed, j)
                    audio = None
                    if j >= spec.videos_per_identity:
                        motion = edit_motion(seed, spec.frames, spec.fps)
                    elif spec.talking:
                        clip = talking_clip(seed, spec.frames, spec.fps)
                        motion, audio = clip.motion, (clip.audio, clip.sample_rate)
                    else:
                        motion = random_motion(seed, spec.frames, spec.fps)
                    frames = []
                    for row in motion:
                        frames.append(encode_jpeg(head.render(row)))
                        if progress is not None:
                            progress(1)
                    writer.add_video(
                        video_name(identity_seed, j),
                        frames,
                        to_lmdb_rows(motion),
                        split=split,
                        audio=audio,
                        fps=spec.fps,
                    )
    return out
