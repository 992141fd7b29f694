"""Benchmark: which offline backbone makes a perceptual loss that prefers sharp images?

    python bench/perceptual_features.py --data /tmp/synth128 [--frames 32] [--threads 1]

A renderer that cannot place an edge to the pixel is trained towards the minimiser of its loss's
expected value over that uncertainty. For each held-out SynthHead frame y and the five placements
S = {y, y shifted one pixel left/right/up/down}, two candidates are scored by E_s L(x, s):
    sharp  x = y                  (right picture, possibly misplaced by a pixel)
    blur   x = mean over S of s   (the L2 minimiser: what an averaging loss teaches)
`prefers sharp` = E L(blur) / E L(sharp): above 1 the loss pays less for a sharp image than for the
average, below 1 it teaches blur. `blur / shift` = L(gaussian σ 1 px of y, y) / L(y shifted 1 px, y).
The cost is one training use of the loss: forward + backward of 8 renders and forward of 8 targets at
128², on the given threads, measured side by side in one run (median of 5).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn import functional as F


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="SynthHead LMDB root (its test split is used)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from pirender.data.lmdb_schema import VoxLMDB
    from pirender.data.pairs import image_tensor
    from pirender.losses.perceptual import PerceptualLoss, build_features

    db = VoxLMDB(args.data, args.size)
    videos = db.videos("test")
    frames = [image_tensor(db.frame(v, (7 * i) % db.num_frames(v))) for i, v in enumerate(videos * 4)]
    y = torch.stack(frames[: args.frames])  # (N, 3, H, W) in [-1, 1]
    shifts = [y] + [torch.roll(y, s, dims=d) for d in (2, 3) for s in (-1, 1)]
    blur_mean = torch.stack(shifts).mean(0)
    gauss = _gaussian_blur(y, 1.0)

    rows = []
    for name in ("l1", "vgg16_hed", "effnet_lite0", "vgg19_random"):
        features = build_features(name, None)
        loss = PerceptualLoss(features, num_scales=4, style_weight=0.0, backbone=name)
        with torch.no_grad():
            e_sharp = statistics.mean(float(loss(y, s).total) for s in shifts)
            e_blur = statistics.mean(float(loss(blur_mean, s).total) for s in shifts)
            blur_vs_shift = float(loss(gauss, y).total) / float(loss(shifts[1], y).total)
        cost = _cost(loss, y[:8])
        rows.append((name, e_blur / e_sharp, blur_vs_shift, cost))
    print(f"{args.frames} held-out SynthHead frames at {args.size}², {args.threads} thread(s)")
    print("| features | prefers sharp (E L(blur) / E L(sharp)) | blur / shift | loss cost per step (ms) |")
    print("|---|---|---|---|")
    for name, prefer, ratio, cost in rows:
        print(f"| {name} | {prefer:.3f} | {ratio:.3f} | {cost:.0f} |")
    return 0


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = 3
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(
        F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c
    )


def _cost(loss, target: torch.Tensor) -> float:
    times = []
    for _ in range(5):
        x = (target + 0.05 * torch.randn_like(target)).requires_grad_(True)
        t0 = time.perf_counter()
        loss(x, target).total.backward()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


if __name__ == "__main__":
    raise SystemExit(main())
