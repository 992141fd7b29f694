"""Train the embedded SynthHead extractor and measure it on held-out identities.

    python bench/train_synth_extractor.py            # ~20 min on one CPU thread; writes the shipped asset
    python bench/train_synth_extractor.py --quick    # a 1-minute smoke run into /tmp

Renders random identities / poses / expressions (pirender.motion.extract.synthhead_data), trains the
SynthHeadNet regressor on [named expression controls | angle | trans | crop] with a smooth-L1 loss on
normalised targets, then evaluates on identities never seen in training (rendered at 256 and
downsampled, as the extraction pipeline does) and writes the weights (float16 safetensors), the config
and the measured errors (in the config's `provenance`) next to each other.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch.nn import functional as F

from pirender.motion.extract.synthhead import (
    DEFAULT_WEIGHTS,
    SynthHeadExtractor,
    SynthHeadNet,
    SynthHeadNetConfig,
    targets_from_coeffs,
)
from pirender.motion.extract.synthhead_data import HELD_OUT_IDENTITY_SEED, render_samples


def evaluate(extractor: SynthHeadExtractor, images: np.ndarray, coeffs: np.ndarray) -> dict[str, float]:
    """Mean absolute errors: angles in degrees, trans in units, crop s and px, each named control."""
    from pirender.synth import EXPRESSION_CONTROLS

    predicted = extractor.extract(images)
    err = np.abs(predicted - coeffs)
    metrics = {
        "angle_mae_deg": float(np.degrees(err[:, 64:67]).mean()),
        "pitch_mae_deg": float(np.degrees(err[:, 64]).mean()),
        "yaw_mae_deg": float(np.degrees(err[:, 65]).mean()),
        "roll_mae_deg": float(np.degrees(err[:, 66]).mean()),
        "trans_xy_mae": float(err[:, 67:69].mean()),
        "trans_z_mae": float(err[:, 69].mean()),
        "crop_s_mae": float(err[:, 70].mean()),
        "crop_txty_mae_px": float(err[:, 71:73].mean()),
    }
    controls = {name: float(err[:, slot].mean()) for name, slot in EXPRESSION_CONTROLS.items()}
    metrics["expression_mae"] = float(np.mean(list(controls.values())))
    metrics.update({f"exp_{name}_mae": value for name, value in controls.items()})
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--identities", type=int, default=400)
    parser.add_argument("--per-identity", type=int, default=20)
    parser.add_argument(
        "--hires-fraction", type=float, default=0.25, help="share rendered at 256, downsampled"
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--eval-identities", type=int, default=40)
    parser.add_argument("--eval-per-identity", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run written to /tmp")
    parser.add_argument(
        "--init-from", type=Path, help="fine-tune this extractor (.safetensors; keeps its target scaling)"
    )
    args = parser.parse_args()
    if args.quick:
        args.identities, args.per_identity, args.epochs = 20, 10, 2
        args.eval_identities, args.eval_per_identity = 4, 5
        args.out = Path("/tmp/synthhead_extractor_quick.safetensors")

    from pirender.synth import EXPRESSION_CONTROLS

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.time()

    # 1. Data: training identities 0..N-1, a fraction rendered at 256 and downsampled like inference.
    num_hires = int(round(args.identities * args.hires_fraction))
    seeds = list(range(args.identities))
    low_images, low_coeffs = render_samples(seeds[num_hires:], args.per_identity, seed=args.seed)
    high_images, high_coeffs = render_samples(
        seeds[:num_hires], args.per_identity, seed=args.seed + 1, render_size=256
    )
    images = np.concatenate([low_images, high_images])
    coeffs = np.concatenate([low_coeffs, high_coeffs])
    eval_seeds = list(range(HELD_OUT_IDENTITY_SEED, HELD_OUT_IDENTITY_SEED + args.eval_identities))
    eval_images, eval_coeffs = render_samples(eval_seeds, args.eval_per_identity, seed=12345, render_size=256)
    render_time = time.time() - start
    print(
        f"rendered {len(images)} training + {len(eval_images)} held-out samples in {render_time:.0f} s",
        flush=True,
    )

    # 2. Model and target normalisation.
    slots = tuple(EXPRESSION_CONTROLS.values())
    targets = targets_from_coeffs(coeffs, slots)
    mean, std = targets.mean(0), targets.std(0) + 1e-6
    config = SynthHeadNetConfig(
        control_names=tuple(EXPRESSION_CONTROLS),
        control_slots=slots,
        widths=(16, 24, 48, 96, 160),
        blocks=(1, 1, 1, 1),
        target_mean=tuple(float(v) for v in mean),
        target_std=tuple(float(v) for v in std),
    )
    net = SynthHeadNet(config)
    if args.init_from is not None:  # fine-tune: the start's weights and the target scaling they expect
        initial = SynthHeadExtractor.load(args.init_from)
        config = SynthHeadNetConfig(**{**initial.config.__dict__, "provenance": {}})
        mean, std = np.array(config.target_mean), np.array(config.target_std)
        net = initial.net
    normalised = torch.from_numpy((targets - mean) / std).float()
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # uint8 (N, 3, S, S)

    # 3. Train: AdamW, linear warm-up then cosine decay, mild photometric jitter.
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = len(images) // args.batch_size
    total_steps = steps_per_epoch * args.epochs
    warmup = max(1, total_steps // 30)
    generator = torch.Generator().manual_seed(args.seed)
    step = 0
    net.train()
    for epoch in range(args.epochs):
        order = torch.randperm(len(images), generator=generator)
        running = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_size : (b + 1) * args.batch_size]
            batch = pixels[idx].float() / 127.5 - 1.0
            gain = 1 + 0.15 * (torch.rand(len(idx), 3, 1, 1, generator=generator) - 0.5)
            bias = 0.1 * (torch.rand(len(idx), 1, 1, 1, generator=generator) - 0.5)
            batch = (batch * gain + bias + 0.02 * torch.randn(batch.shape, generator=generator)).clamp(-1, 1)
            lr = args.lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / total_steps))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = F.smooth_l1_loss(net(batch), normalised[idx], beta=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.item()
            step += 1
        print(
            f"epoch {epoch + 1}/{args.epochs} loss {running / steps_per_epoch:.4f} ({time.time() - start:.0f} s)",
            flush=True,
        )

    # 4. Held-out evaluation and export.
    extractor = SynthHeadExtractor(net)
    metrics = evaluate(extractor, eval_images, eval_coeffs)
    train_metrics = evaluate(extractor, images[:500], coeffs[:500])
    total_time = time.time() - start
    provenance = {
        "command": "python " + " ".join(sys.argv),
        "training_samples": len(images),
        "epochs": args.epochs,
        "seconds": round(total_time),
        "threads": args.threads,
        "held_out": f"{len(eval_images)} renders of {args.eval_identities} unseen identities at 256 px",
        "held_out_metrics": {k: round(v, 4) for k, v in metrics.items()},
        "train_subset_metrics": {k: round(v, 4) for k, v in train_metrics.items()},
    }
    config = SynthHeadNetConfig(**{**config.__dict__, "provenance": provenance})
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in net.state_dict().items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(args.out))
    args.out.with_suffix(".json").write_text(config.to_json() + "\n", encoding="utf-8")
    print(json.dumps(provenance, indent=2))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {total_time:.0f} s")


if __name__ == "__main__":
    main()
