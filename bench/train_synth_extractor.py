"""Train the embedded SynthHead extractor and measure it on held-out identities.

    python bench/train_synth_extractor.py            # ~20 min on one CPU thread; writes the shipped asset
    python bench/train_synth_extractor.py --quick    # a 1-minute smoke run into /tmp
    python bench/train_synth_extractor.py --branch eyes --init-from X.safetensors   # add a branch to X

Renders random identities / poses / expressions (pirender.synth.extractor_data), trains the
SynthHeadNet regressor on [named expression controls | angle | trans | crop] with a smooth-L1 loss on
normalised targets, then evaluates on identities never seen in training (rendered at 256 and
downsampled, as the extraction pipeline does) and writes the weights (float16 safetensors), the config
and the measured errors (in the config's `provenance`) next to each other.

`--branch mouth|eyes` keeps a trained extractor's global net (and its other branches) frozen and trains
that window branch (a WindowNet) on windows of 256-px renders, placed with the global net's own
predictions (plus a little jitter), exactly as at inference; then the whole two-stage extractor is
evaluated on 256-px held-out renders. A branch the extractor already has is fine-tuned, a new one is
appended after the others.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from pirender.motion.extract.synthhead import (
    DEFAULT_WEIGHTS,
    EYES_BRANCH,
    MOUTH_BRANCH,
    SynthHeadExtractor,
    SynthHeadNet,
    SynthHeadNetConfig,
    WindowBranchConfig,
    cut_windows,
    prepare_images,
    targets_from_coeffs,
)
from pirender.synth.extractor_data import HELD_OUT_IDENTITY_SEED, render_samples
from pirender.weights.files import write_model_files


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
    parser.add_argument("--branch", choices=sorted(BRANCHES), help="train this window branch of --init-from")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="--branch: keep rendered windows here (per chunk of 10 identities; one folder per global net)",
    )
    args = parser.parse_args()
    if args.branch:
        if args.init_from is None:
            parser.error("--branch needs --init-from (the extractor whose global net places the windows)")
        train_branch(args)
        return
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
    fit(net, pixels, normalised, args, start)

    # 4. Held-out evaluation and export.
    extractor = SynthHeadExtractor(net)
    metrics = evaluate(extractor, eval_images, eval_coeffs)
    train_metrics = evaluate(extractor, images[:500], coeffs[:500])
    export(net, config, args, len(images), metrics, train_metrics, time.time() - start)


def fit(
    model: torch.nn.Module,
    pixels: torch.Tensor,
    targets: torch.Tensor,
    args: argparse.Namespace,
    start: float,
) -> None:
    """Train `model` on uint8 images (N, 3, H, W) -> normalised targets (N, K): AdamW, linear warm-up
    then cosine decay, mild photometric jitter, smooth-L1; one line per epoch."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = len(pixels) // args.batch_size
    total_steps = steps_per_epoch * args.epochs
    warmup = max(1, total_steps // 30)
    generator = torch.Generator().manual_seed(args.seed)
    step = 0
    model.train()
    for epoch in range(args.epochs):
        order = torch.randperm(len(pixels), generator=generator)
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
            loss = F.smooth_l1_loss(model(batch), targets[idx], beta=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.item()
            step += 1
        print(
            f"epoch {epoch + 1}/{args.epochs} loss {running / steps_per_epoch:.4f} ({time.time() - start:.0f} s)",
            flush=True,
        )


def export(
    net: SynthHeadNet,
    config: SynthHeadNetConfig,
    args: argparse.Namespace,
    num_samples: int,
    metrics: dict[str, float],
    train_metrics: dict[str, float],
    total_time: float,
    extra: dict | None = None,
) -> None:
    """Write float16 weights and the config with its provenance (command, errors, time)."""
    provenance = {
        "command": "python " + " ".join(sys.argv),
        "training_samples": num_samples,
        "epochs": args.epochs,
        "seconds": round(total_time),
        "threads": args.threads,
        "held_out": f"{args.eval_identities * args.eval_per_identity} renders of {args.eval_identities} "
        "unseen identities at 256 px",
        "held_out_metrics": {k: round(v, 4) for k, v in metrics.items()},
        "train_subset_metrics": {k: round(v, 4) for k, v in train_metrics.items()},
        **(extra or {}),
    }
    config = SynthHeadNetConfig(**{**config.__dict__, "provenance": provenance})
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in net.state_dict().items()}
    write_model_files(args.out.with_suffix(".json"), args.out, json.loads(config.to_json()), state)
    print(json.dumps(provenance, indent=2))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {total_time:.0f} s")


BRANCHES = {branch.name: branch for branch in (MOUTH_BRANCH, EYES_BRANCH)}
IDENTITIES_PER_CHUNK = 10


def render_window_chunk(
    extractor: SynthHeadExtractor, branch: WindowBranchConfig, chunk: int, per_identity: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training windows of identities chunk*10 .. chunk*10+9, placed as at inference.

    Returns:
        windows (N, 3, h, w) uint8 (a fifth cut from a 128-px version of the render upsampled again,
        as a small input is), coeffs (N, 73), and the first renders with their coeffs for a
        train-subset evaluation: images (n, 256, 256, 3) uint8, coeffs (n, 73).
    """
    seeds = range(chunk * IDENTITIES_PER_CHUNK, (chunk + 1) * IDENTITIES_PER_CHUNK)
    images, coeffs = render_samples(list(seeds), per_identity, seed=seed * 1_000_003 + chunk, size=256)
    rng = np.random.default_rng(seed * 1_000_003 + chunk)
    frames = prepare_images(images, branch.frame_size)  # (N, 3, 256, 256) float
    small = rng.random(len(images)) < 0.2
    if small.any():
        low = ((prepare_images(images[small], 128).permute(0, 2, 3, 1).numpy() + 1) * 127.5).round()
        frames[torch.from_numpy(small)] = prepare_images(low.clip(0, 255).astype(np.uint8), branch.frame_size)
    # Place the windows with the global net's predictions (its real errors, ~2 px at 256) plus a
    # little extra jitter, as held-out identities are read a bit less accurately than these.
    placed = extractor.extract(images)
    placed[:, 64:67] += rng.normal(0, 0.01, (len(images), 3))
    placed[:, 70] *= 1 + rng.normal(0, 0.015, len(images))
    placed[:, 71:73] += rng.normal(0, 1.0, (len(images), 2))
    windows = torch.cat(
        [cut_windows(frames[i : i + 64], placed[i : i + 64], branch) for i in range(0, len(images), 64)]
    )
    windows = ((windows + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    return windows, coeffs, images[:50], coeffs[:50]


def train_branch(args: argparse.Namespace) -> None:
    """Render windows, train the branch's WindowNet on them (the rest frozen), evaluate, export."""
    from pirender.synth import EXPRESSION_CONTROLS

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.time()
    base = SynthHeadExtractor.load(args.init_from)
    preset = BRANCHES[args.branch]
    slots = tuple(EXPRESSION_CONTROLS[name] for name in preset.control_names)
    branch = replace(preset, control_slots=slots)

    # 1. Data: windows of `identities` training identities, in chunks (cached: rendering dominates).
    windows, coeffs, check_images, check_coeffs = [], [], [], []
    for chunk in range(math.ceil(args.identities / IDENTITIES_PER_CHUNK)):
        name = f"{branch.name}_chunk{chunk:04d}_n{args.per_identity}_s{args.seed}.npz"
        path = args.cache_dir / name if args.cache_dir else None
        if path is not None and path.is_file():
            data = np.load(path)
            parts = data["windows"], data["coeffs"], data["check_images"], data["check_coeffs"]
        else:
            parts = render_window_chunk(base, branch, chunk, args.per_identity, args.seed)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez(
                    path, windows=parts[0], coeffs=parts[1], check_images=parts[2], check_coeffs=parts[3]
                )
        for store, part in zip((windows, coeffs, check_images, check_coeffs), parts, strict=True):
            store.append(part)
        if chunk % 10 == 9:
            print(
                f"chunk {chunk + 1}: {sum(map(len, windows))} windows ({time.time() - start:.0f} s)",
                flush=True,
            )
    pixels = torch.from_numpy(np.concatenate(windows))
    coeffs_all = np.concatenate(coeffs)
    check_images, check_coeffs = np.concatenate(check_images)[:500], np.concatenate(check_coeffs)[:500]
    eval_seeds = list(range(HELD_OUT_IDENTITY_SEED, HELD_OUT_IDENTITY_SEED + args.eval_identities))
    eval_images, eval_coeffs = render_samples(eval_seeds, args.eval_per_identity, seed=12345, size=256)
    print(
        f"{len(pixels)} windows + {len(eval_images)} held-out renders in {time.time() - start:.0f} s",
        flush=True,
    )

    # 2. Targets, normalised; the branch is built into the extractor's net (appended, or fine-tuned
    # with the targets and scaling it has).
    targets = coeffs_all[:, list(slots)]
    mean, std = targets.mean(0), targets.std(0) + 1e-6
    branch = replace(branch, target_mean=tuple(map(float, mean)), target_std=tuple(map(float, std)))
    existing = {b.name: b for b in base.config.branches}
    if branch.name in existing:
        branch = existing[branch.name]
        assert branch.control_names == preset.control_names, branch.control_names
        mean, std = np.array(branch.target_mean), np.array(branch.target_std)
    branches = base.config.branches if branch.name in existing else (*base.config.branches, branch)
    config = replace(base.config, branches=branches, provenance={})
    net = SynthHeadNet(config)
    net.load_state_dict(base.net.state_dict(), strict=False)  # the global net and the other branches
    normalised = torch.from_numpy((targets - mean) / std).float()

    # 3. Train the branch alone (same recipe as the global net).
    fit(net.branches[branch.name], pixels, normalised, args, start)

    # 4. Held-out evaluation of the two-stage extractor (and of the --init-from one), export.
    extractor = SynthHeadExtractor(net)
    metrics = evaluate(extractor, eval_images, eval_coeffs)
    train_metrics = evaluate(extractor, check_images, check_coeffs)
    stage1 = evaluate(base, eval_images, eval_coeffs)
    earlier = base.config.provenance
    extra = {
        "init_from": str(args.init_from),
        # the commands that made --init-from, oldest first
        "history": [*earlier.get("history", []), earlier.get("command", "?")],
        "held_out_metrics_init_from": {k: round(v, 4) for k, v in stage1.items()},
    }
    export(net, config, args, len(pixels), metrics, train_metrics, time.time() - start, extra)


if __name__ == "__main__":
    main()
