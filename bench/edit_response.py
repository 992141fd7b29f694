"""Benchmark: how much of each expression preset the renderer's whole output carries.

    python bench/edit_response.py [--renderer DIR[,DIR...]] [--seeds 11,22,33,44,55,66] [--presets a,b] [--threads 1] [--picture P]

For each identity (seeds the tests do not use) the source is SynthHead's neutral frontal render; each
built-in preset is applied with the source's true coefficients (`pirender.edit`, whole render, no
keep_unchanged). The SynthHead extractor reads the expression controls off the edited output and
off the unedited output; the response is the projection of that change on the commanded change,
dc_read . dc_cmd / |dc_cmd|^2 (1 = the whole edit shows, 0 = nothing moved). The same figure for
SynthHead's own render of the edited head is the ceiling the extractor allows. Several renderers
are measured side by side on the same frames. Issue 19 asks for >= 0.6 on every preset.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--renderer", default="", help="renderer dirs, comma-separated (default: shipped)")
    parser.add_argument("--seeds", default="11,22,33,44,55,66", help="SynthHead identity seeds")
    parser.add_argument("--presets", default="", help="comma-separated preset names (default: all built-in)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--picture",
        type=Path,
        help="PNG: per seed, the source, then each preset's output (last renderer) and truth",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import pirender
    from pirender.motion.extract.synthhead import SynthHeadExtractor
    from pirender.pipelines.edits import list_presets, load_preset
    from pirender.pipelines.models import DEFAULT_RENDERER
    from pirender.synth import Identity, SynthHead, neutral_coeffs

    renderers = [Path(r) for r in args.renderer.split(",") if r] or [DEFAULT_RENDERER]
    seeds = [int(s) for s in args.seeds.split(",")]
    extractor = SynthHeadExtractor.load()
    names = [n for n in list_presets() if n != "neutral"]
    if args.presets:
        unknown = sorted(set(args.presets.split(",")) - set(names))
        if unknown:
            parser.error(f"unknown preset(s) {', '.join(unknown)}; known: {', '.join(names)}")
        names = args.presets.split(",")
    own = neutral_coeffs()
    heads = {seed: SynthHead(Identity.from_seed(seed), args.size) for seed in seeds}
    sources = {seed: heads[seed].render(own) for seed in seeds}

    def response(before: np.ndarray, after: np.ndarray, command: np.ndarray) -> float:
        read = extractor.extract(np.stack([before, after]))[:, :64]
        return float((read[1] - read[0]) @ command / (command @ command))

    table: dict[str, list[float]] = {}
    tiles: dict[int, list[np.ndarray]] = {seed: [sources[seed]] for seed in seeds}
    for name in names:
        target = neutral_coeffs()
        target[:64] = load_preset(name).exp
        command = target[:64] - own[:64]
        row = [np.mean([response(sources[s], heads[s].render(target), command) for s in seeds])]
        for renderer in renderers:
            values = []
            for seed in seeds:
                kwargs = {"source_coeffs": own, "size": args.size, "renderer": renderer}
                unedited = pirender.edit(sources[seed], **kwargs)
                edited = pirender.edit(sources[seed], preset=name, **kwargs)
                values.append(response(unedited, edited, command))
                if renderer == renderers[-1]:
                    tiles[seed] += [edited, heads[seed].render(target)]
            row.append(float(np.mean(values)))
        table[name] = row
        print(name, " ".join(f"{v:.2f}" for v in row), flush=True)

    header = ["preset", "SynthHead render (ceiling)"] + [r.name for r in renderers]
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    means = np.mean(np.array(list(table.values())), axis=0)
    if args.picture is not None:
        from PIL import Image

        Image.fromarray(np.concatenate([np.concatenate(t, 1) for t in tiles.values()], 0)).save(args.picture)
        print(f"picture: {args.picture} (per row: source, then output and truth of {', '.join(names)})")
    print("| **mean** | " + " | ".join(f"{v:.2f}" for v in means) + " |")
    print(
        f"\nseeds {seeds}, size {args.size}; command: python bench/edit_response.py {' '.join(sys.argv[1:])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
