"""Extraction speed: frames per second on a 256 x 256 video, CPU.

    python bench/extract_speed.py [--frames 50] [--threads 2] [--skip-deep3d]

Writes a SynthHead talking-head clip (256 x 256, 25 fps), then times `extract_motion` end to end
(decode, face tracking/cropping, regression, smoothing) for:

* synthhead, frames already cropped (--no-crop)
* synthhead with MediaPipe face tracking + cropping
* deep3d (ResNet-50 R-Net, random weights: speed does not depend on the values) with a stand-in BFM
  landmark file, frames already cropped; its per-frame landmark detection + alignment is included.

Each configuration runs once to warm up and is then timed `--repeats` times; the median is printed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io
import torch


def _synth_clip(path: Path, frames: int) -> None:
    from pirender.media.video import write_video
    from pirender.synth import Identity, SynthHead, neutral_coeffs

    head = SynthHead(Identity.from_seed(7), 256)
    t = np.arange(frames) / 25.0
    coeffs = np.tile(neutral_coeffs(), (frames, 1))
    coeffs[:, 65] = 0.3 * np.sin(2 * np.pi * 0.4 * t)
    coeffs[:, 0] = 0.5 + 0.5 * np.sin(2 * np.pi * 2 * t)
    write_video(path, (head.render(c) for c in coeffs), fps=25)


def _fake_bfm(folder: Path) -> Path:
    from pirender.motion.extract.align import TEMPLATE_5

    folder.mkdir(exist_ok=True)
    lm = np.zeros((68, 3))
    lm[[36, 39]], lm[[42, 45]] = TEMPLATE_5[0], TEMPLATE_5[1]
    lm[30], lm[48], lm[54] = TEMPLATE_5[2], TEMPLATE_5[3], TEMPLATE_5[4]
    scipy.io.savemat(folder / "similarity_Lm3D_all.mat", {"lm": lm})
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-deep3d", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from pirender.motion.extract.deep3d import Deep3DExtractor, ReconNet
    from pirender.motion.extract.pipeline import extract_motion
    from pirender.motion.extract.synthhead import SynthHeadExtractor

    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "clip.mp4"
        _synth_clip(video, args.frames)
        synthhead = SynthHeadExtractor.load()
        configs = [
            ("synthhead, --no-crop", synthhead, False),
            ("synthhead + MediaPipe crop tracking", synthhead, True),
        ]
        if not args.skip_deep3d:
            torch.save({"net_recon": ReconNet().state_dict()}, Path(tmp) / "epoch_20.pth")
            deep3d = Deep3DExtractor.from_checkpoint(Path(tmp) / "epoch_20.pth", _fake_bfm(Path(tmp) / "BFM"))
            configs.append(("deep3d (ResNet-50), --no-crop", deep3d, False))
        print(f"{args.frames} frames, 256x256, torch threads {args.threads}")
        for name, extractor, crop in configs:
            extract_motion(video, extractor, crop=crop)  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                motion = extract_motion(video, extractor, crop=crop)
                times.append(time.perf_counter() - start)
            assert motion.num_frames == args.frames
            median = statistics.median(times)
            print(
                f"{name:40s} {args.frames / median:7.1f} frames/s  (median of {args.repeats}: {median:.2f} s)"
            )


if __name__ == "__main__":
    main()
