"""Diagnostic: can a renderer learn to open the mouth (or any control) at all, and what must the loss weigh?

    python bench/mouth_overfit.py [--renderer DIR] [--control jaw_open] [--value 1] [--change-weight 20]
        [--normalize image|mask] [--steps 800] [--threads 1]

Fine-tunes a copy of the renderer (default: the shipped one) on a handful of fixed pairs: SynthHead
identities (`--train-ids`, default four), each a neutral frontal source driven to `--control` = `--value` (default jaw_open = 1; the
truth: SynthHead's render), plus
the same sources driven by their own coefficients (so it cannot just open every mouth), or with `--reverse` the
edited renders driven back to neutral (as the trainer uses every pair both ways: the renderer must then
tell from the source image alone whether the control is already there). The loss is L1 on
the output + 0.3 L1 on the warped image + change_weight x the change-weighted L1 (losses/change.py,
the trainer's `loss.change_weight` and `loss.change_normalize`); 0 gives the plain whole-image L1. Every
50 steps it prints the control's response, read by the SynthHead extractor as in bench/edit_response.py (1 = all of the
commanded change, 0 = none), on the training identities and on two held-out ones, and at the end
writes a picture (sources / outputs / truths of the training identities) to --picture.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--renderer", default="", help="renderer dir (default: shipped)")
    parser.add_argument("--control", default="jaw_open", help="the expression control to learn")
    parser.add_argument("--value", type=float, default=1.0, help="its commanded value (from neutral)")
    parser.add_argument("--change-weight", type=float, default=20.0)
    parser.add_argument("--normalize", choices=("image", "mask"), default="image")
    parser.add_argument(
        "--reverse", action="store_true",
        help="train the reverse pairs too (the edited render driven back to neutral), as the trainer "
        "uses every pair both ways",
    )  # fmt: skip
    parser.add_argument(
        "--source-conditioning", action="store_true",
        help="give the renderer the source's own coefficients too (RendererConfig.source_conditioning; "
        "a zero-initialised layer, so it starts as the given renderer)",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--picture", type=Path, default=None, help="PNG of the training pairs at the end")
    parser.add_argument("--train-ids", default="11,22,33,44", help="SynthHead identity seeds trained on")
    parser.add_argument("--save", type=Path, default=None, help="save the fine-tuned model directory here")
    args = parser.parse_args()
    from pirender.synth import EXPRESSION_CONTROLS

    if args.control not in EXPRESSION_CONTROLS:
        parser.error(f"unknown control {args.control!r}; known: {', '.join(EXPRESSION_CONTROLS)}")

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from pirender.losses.change import change_weighted_l1
    from pirender.models.loading import load_renderer
    from pirender.motion.extract.synthhead import SynthHeadExtractor
    from pirender.pipelines.models import DEFAULT_RENDERER
    from pirender.synth import Identity, SynthHead, neutral_coeffs, with_controls

    model = load_renderer(args.renderer or DEFAULT_RENDERER)
    if args.source_conditioning:
        model = model.with_source_conditioning()
    model.train()
    extractor = SynthHeadExtractor.load()
    size, train_ids, held_ids = 128, [int(s) for s in args.train_ids.split(",")], [55, 66]
    neutral, opened = neutral_coeffs(), with_controls(None, **{args.control: args.value})
    command = opened[:64] - neutral[:64]
    heads = {s: SynthHead(Identity.from_seed(s), size) for s in train_ids + held_ids}
    sources = {s: h.render(neutral) for s, h in heads.items()}
    truths = {s: h.render(opened) for s, h in heads.items()}

    def tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1

    def window(coeffs: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.repeat(coeffs[:, None], 27, 1)).float()

    def to_uint8(images: torch.Tensor) -> np.ndarray:
        return ((images.permute(0, 2, 3, 1).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)

    def response(ids: list[int]) -> tuple[float, np.ndarray]:
        model.eval()
        with torch.no_grad():
            x = torch.stack([tensor(sources[s]) for s in ids])
            own = torch.from_numpy(np.stack([neutral] * len(ids))).float()  # the sources' coefficients
            edited = to_uint8(model(x, torch.stack([window(opened)] * len(ids)), source_coeffs=own).image)
            unedited = to_uint8(model(x, torch.stack([window(neutral)] * len(ids)), source_coeffs=own).image)
        model.train()
        change = extractor.extract(edited)[:, :64] - extractor.extract(unedited)[:, :64]
        return float(np.mean(change @ command / (command @ command))), edited

    second = truths if args.reverse else sources  # the second half: reversed pairs, or the unmoved source
    n = len(train_ids)
    x = torch.stack([tensor(sources[s]) for s in train_ids] + [tensor(second[s]) for s in train_ids])
    driving = torch.stack([window(opened)] * n + [window(neutral)] * n)
    own = torch.from_numpy(np.stack([neutral] * n + [opened if args.reverse else neutral] * n)).float()
    y = torch.stack([tensor(truths[s]) for s in train_ids] + [tensor(sources[s]) for s in train_ids])
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.5, 0.999))
    print(
        f"step 0: {args.control} response train {response(train_ids)[0]:.2f} held-out {response(held_ids)[0]:.2f}"
    )
    start = time.time()
    for step in range(1, args.steps + 1):
        out = model(x, driving, source_coeffs=own)
        loss = (out.image - y).abs().mean() + 0.3 * (out.warped_image - y).abs().mean()
        if args.change_weight > 0:
            loss = loss + args.change_weight * change_weighted_l1(out.image, y, x, normalize=args.normalize)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == args.steps:
            train_r, edited = response(train_ids)
            print(
                f"step {step}: loss {loss.item():.4f} {args.control} response train {train_r:.2f} "
                f"held-out {response(held_ids)[0]:.2f} ({time.time() - start:.0f} s)",
                flush=True,
            )
    if args.picture is not None:
        from PIL import Image

        rows = [[sources[s] for s in train_ids], list(edited), [truths[s] for s in train_ids]]
        Image.fromarray(np.concatenate([np.concatenate(r, 1) for r in rows], 0)).save(args.picture)
    if args.save is not None:
        model.eval()
        model.save_pretrained(
            args.save, provenance={"trained_by": "bench/mouth_overfit.py", "argv": sys.argv[1:]}
        )
    print(f"command: python bench/mouth_overfit.py {' '.join(sys.argv[1:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
