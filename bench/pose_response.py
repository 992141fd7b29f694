"""Benchmark: how much of a small head-pose change the renderer carries out.

    python bench/pose_response.py [--renderer DIR[,DIR...]] [--degrees 1,2,4,8,15] [--seeds 11,22,33]

The source is SynthHead's neutral frontal render of an identity (seeds the tests do not use). It is
driven with its own true coefficients plus a pitch or yaw offset (`pirender.edit(..., relative=True)`,
whole render), and SynthHead renders the truth of that pose. The response is the projection of the
output's change on the truth's change, <out - src, truth - src> / |truth - src|^2 (1 = the whole
motion, 0 = the source copied), beside the PSNR to the truth of the output and of the source copied.
Editing a video's pose (`--pose-scale`, `--pose-still`) asks for offsets of a few degrees from each
frame, so a renderer that ignores small offsets leaves the video's own motion (docs/pipelines.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--renderer", default="", help="renderer dirs, comma-separated (default: shipped)")
    parser.add_argument("--degrees", default="1,2,4,8,15", help="offsets in degrees")
    parser.add_argument("--seeds", default="11,22,33", help="SynthHead identity seeds")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import pirender
    from pirender.motion.coeffs import ANGLE
    from pirender.pipelines.models import DEFAULT_RENDERER
    from pirender.synth import Identity, SynthHead, neutral_coeffs

    renderers = [Path(r) for r in args.renderer.split(",") if r] or [DEFAULT_RENDERER]
    seeds = [int(s) for s in args.seeds.split(",")]
    own = neutral_coeffs()
    heads = {seed: SynthHead(Identity.from_seed(seed), args.size) for seed in seeds}
    sources = {seed: heads[seed].render(own) for seed in seeds}

    header = ["offset", "copy source (dB)"] + [f"{r.name}: response / dB" for r in renderers]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    means = np.zeros((len(renderers), 2))
    rows = 0
    for degrees in [float(d) for d in args.degrees.split(",")]:
        for axis, name in ((0, "pitch"), (1, "yaw")):
            target = own.copy()
            target[ANGLE.start + axis] += np.deg2rad(degrees)
            truths = {s: heads[s].render(target) for s in seeds}
            copy = np.mean([psnr(sources[s], truths[s]) for s in seeds])
            cells = []
            for i, renderer in enumerate(renderers):
                response, quality = [], []
                for s in seeds:
                    out = pirender.edit(
                        sources[s], source_coeffs=own, size=args.size, renderer=renderer, relative=True,
                        **{name: degrees},
                    )  # fmt: skip
                    change = truths[s].astype(np.float64) - sources[s]
                    moved = out.astype(np.float64) - sources[s]
                    response.append(float((moved * change).sum() / (change * change).sum()))
                    quality.append(psnr(out, truths[s]))
                means[i] += np.mean(response), np.mean(quality)
                cells.append(f"{np.mean(response):.2f} / {np.mean(quality):.2f}")
            rows += 1
            print(f"| {name} +{degrees:g}° | {copy:.2f} | " + " | ".join(cells) + " |", flush=True)
    print("| **mean** | | " + " | ".join(f"{r:.2f} / {q:.2f}" for r, q in means / rows) + " |")
    print(
        f"\nseeds {seeds}, size {args.size}; command: python bench/pose_response.py {' '.join(sys.argv[1:])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
