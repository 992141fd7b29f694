"""How much each SynthHead expression control changes a render: the pixels it moves and how far.

    python bench/control_contrast.py --size 128 --seeds 45,46,47,48

For each control, moved from 0 (the neutral face) to 1: the mean count of pixels whose largest
channel change exceeds `--threshold` on the [-1, 1] scale (the change loss's mask, before growing),
and the mean of the `--top` largest changes. A renderer follows the controls with strong changes
first (docs/training.md, "Why these controls and not the others").
"""

from __future__ import annotations

import argparse

import numpy as np

from pirender.synth.expression import EXPRESSION_CONTROLS, with_controls
from pirender.synth.head import render


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seeds", default="45,46,47,48", help="SynthHead identities")
    parser.add_argument("--threshold", type=float, default=0.1)
    parser.add_argument("--top", type=int, default=50)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    neutral = {
        seed: render(seed, with_controls(), args.size).astype(np.float32) / 127.5 - 1 for seed in seeds
    }
    print("| control | pixels > threshold | largest changes |")
    print("|---|---|---|")
    for name in EXPRESSION_CONTROLS:
        counts, largest = [], []
        for seed in seeds:
            moved = render(seed, with_controls(**{name: 1.0}), args.size).astype(np.float32) / 127.5 - 1
            change = np.abs(moved - neutral[seed]).max(-1)
            counts.append(int((change > args.threshold).sum()))
            largest.append(float(np.sort(change.ravel())[-args.top :].mean()))
        print(f"| {name} | {np.mean(counts):.0f} | {np.mean(largest):.2f} |")
    print(f"\nsize {args.size}, identities {seeds}, threshold {args.threshold}, top {args.top}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
