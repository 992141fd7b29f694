"""Benchmark: how close SynthHead edits come to SynthHead's own render of the edited head.

    python bench/edit_fidelity.py [--renderer DIR] [--seeds 11,22,33,44,55,66] [--threads 1]

For each identity (seeds not used by the tests) the source is SynthHead's neutral frontal render; each
edit (yaw +-20, pitch +15, every built-in preset) is applied with the source's true coefficients and
compared (PSNR, 128 px) with SynthHead's render of the edited coefficients. Printed per edit, as means
over the identities: the unedited source's PSNR (the baseline), the renderer's whole output
(`edit`), and `edit(keep_unchanged=True)`; the gains are measured side by side on the same frames.
Also the reconstruction: the renderer's output for the unedited coefficients against the source.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--renderer", type=Path, help="renderer dir (default: the shipped SynthHead renderer)"
    )
    parser.add_argument("--seeds", default="11,22,33,44,55,66", help="SynthHead identity seeds")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from pirender.pipelines.edit import EditPipeline
    from pirender.pipelines.edits import build_edit, list_presets
    from pirender.pipelines.keep_unchanged import keep_unchanged
    from pirender.synth import Identity, SynthHead, neutral_coeffs

    pipeline = EditPipeline.from_pretrained(args.renderer, size=args.size)
    edits = {"yaw +20": build_edit(yaw=20), "yaw -20": build_edit(yaw=-20), "pitch +15": build_edit(pitch=15)}
    edits |= {name: build_edit(preset=name) for name in list_presets() if name != "neutral"}
    seeds = [int(s) for s in args.seeds.split(",")]
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in edits}
    reconstruction = []
    for seed in seeds:
        head = SynthHead(Identity.from_seed(seed), args.size)
        own = neutral_coeffs()
        source = head.render(own)
        rebuilt = pipeline(source, None, source_coeffs=own)  # the reconstruction, rendered once
        reconstruction.append(psnr(rebuilt, source))
        for name, edit in edits.items():
            target = head.render(edit.apply(own))
            whole = pipeline(source, edit, source_coeffs=own)
            # what edit(keep_unchanged=True) returns for a square source (the crop is the image)
            kept = keep_unchanged(source, whole, rebuilt)
            rows[name].append((psnr(source, target), psnr(whole, target), psnr(kept, target)))
        print(f"identity {seed} done", file=sys.stderr, flush=True)

    print(
        f"renderer: {args.renderer or 'the shipped SynthHead renderer'}; identities {seeds}; {args.size} px"
    )
    print(f"reconstruction of the unedited source: {np.mean(reconstruction):.2f} dB "
          f"(min {np.min(reconstruction):.2f})")  # fmt: skip
    print("| edit | source -> target | edit -> target | keep_unchanged -> target | wins (edit / keep) |")
    print("|---|---|---|---|---|")
    for name, values in rows.items():
        v = np.array(values)
        wins = (int((v[:, 1] > v[:, 0]).sum()), int((v[:, 2] > v[:, 0]).sum()))
        print(f"| {name} | {v[:, 0].mean():.2f} | {v[:, 1].mean():.2f} | {v[:, 2].mean():.2f} | "
              f"{wins[0]} / {wins[1]} of {len(v)} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
