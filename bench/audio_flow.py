"""Benchmark of the audio -> motion flow against its baselines on held-out SynthHead talking clips.

    python bench/audio_flow.py --out runs/audio_bench --threads 1 --save-asset

trains (or, with --reuse, loads) three models with the same trainer, data and conditioning --
the flow, the autoregressive conditional Gaussian (no flow layers) and the deterministic regressor --
then reports on held-out clips:
  * teacher-forced NLL per frame (nats, coefficient units) of the flow and the Gaussian;
  * correlation of generated and true mouth opening (SynthHead's jaw_open control slot);
  * head-pose diversity: std of the angles across 10 samples of one clip, frame-averaged;
  * head-pose realism: std over time of a sample's angles, beside the data's;
  * sampling speed as a real-time factor (seconds of speech per second of compute).
Figures go to OUT/results.json and stdout (markdown); docs/audio.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pirender.audio.config import AudioFlowConfig, AudioTrainConfig
from pirender.audio.data import make_clip
from pirender.audio.generate import generate_motion
from pirender.audio.model import MotionFlow
from pirender.audio.train import evaluate, train
from pirender.motion.coeffs import ANGLE
from pirender.synth.audio import talking_clip
from pirender.synth.expression import EXPRESSION_CONTROLS

KINDS = ("flow", "gaussian", "regressor")
JAW = EXPRESSION_CONTROLS["jaw_open"]
HELD_OUT_SEED = 1_000_000  # held-out clips use seeds from here on: never seen in training
ASSET_DIR = Path(__file__).resolve().parents[1] / "src" / "pirender" / "assets" / "audio_flow"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="runs/audio_bench")
    parser.add_argument("--train-clips", type=int, default=120)
    parser.add_argument("--val-clips", type=int, default=12)
    parser.add_argument("--frames", type=int, default=250, help="frames per generated clip (10 s at 25 fps)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="load models already trained under OUT")
    parser.add_argument("--save-asset", action="store_true", help=f"copy the trained flow to {ASSET_DIR}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)

    # 1. data: SynthHead talking clips (audio drives the mouth, head pose is independent of it)
    start = time.perf_counter()
    train_clips = [_clip(seed, args.frames)[0] for seed in range(args.train_clips)]
    pairs = [_clip(HELD_OUT_SEED + i, args.frames) for i in range(args.val_clips)]
    held_out = [p[0] for p in pairs]
    mouth = {p[0].name: p[1].mouth_open for p in pairs}
    audio = {p[0].name: p[1].audio for p in pairs}
    print(
        f"data: {len(train_clips)} train / {len(held_out)} held-out clips in {time.perf_counter() - start:.1f} s"
    )

    # 2. the three models, same trainer and data
    train_config = AudioTrainConfig(steps=args.steps)
    models, train_seconds = {}, {}
    for kind in KINDS:
        run_dir = out / kind
        start = time.perf_counter()
        if args.reuse and (run_dir / "model" / "config.json").is_file():
            models[kind] = MotionFlow.load(run_dir)
        else:
            models[kind] = train(
                AudioFlowConfig(kind=kind), train_config, train_clips, held_out, run_dir, tensorboard=False
            )
        train_seconds[kind] = time.perf_counter() - start
        print(f"{kind}: ready in {train_seconds[kind]:.0f} s")

    # 3. metrics on held-out clips
    results: dict[str, dict[str, float]] = {}
    for kind, model in models.items():
        metrics = evaluate(model, held_out)
        corr, diversity, pose_time_std = [], [], []
        for clip in held_out:
            samples = _generate(model, clip, audio, num_samples=args.samples)
            corr += [_corr(s[:, JAW], mouth[clip.name]) for s in samples]
            diversity.append(float(samples[:, :, ANGLE].std(0).mean()))
            pose_time_std.append(float(samples[:, :, ANGLE].std(1).mean()))
        results[kind] = {
            "nll_per_frame": metrics["nll_per_frame"],
            "mouth_corr": float(np.mean(corr)),
            "pose_std_across_samples_rad": float(np.mean(diversity)),
            "pose_std_over_time_rad": float(np.mean(pose_time_std)),
            "train_seconds": train_seconds[kind],
        }
    data_pose_std = float(np.mean([c.motion[:, ANGLE].std(0).mean() for c in held_out]))
    speed = _speed(models["flow"], held_out[0], audio, args.threads)

    # 4. report
    report = {
        "results": results,
        "data_pose_std_over_time_rad": data_pose_std,
        "speed": speed,
        "args": vars(args),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(
        "\n| model | NLL/frame (nats) | mouth corr | pose std across samples (rad) | pose std over time (rad) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for kind, r in results.items():
        nll = f"{r['nll_per_frame']:.1f}" if kind != "regressor" else "n/a (deterministic)"
        print(
            f"| {kind} | {nll} | {r['mouth_corr']:.3f} | {r['pose_std_across_samples_rad']:.4f} "
            f"| {r['pose_std_over_time_rad']:.4f} |"
        )
    print(f"| data | | | | {data_pose_std:.4f} |")
    print(f"\nsampling speed (flow): {json.dumps(speed)}")
    if args.save_asset:
        if ASSET_DIR.exists():
            shutil.rmtree(ASSET_DIR)
        shutil.copytree(out / "flow" / "model", ASSET_DIR)
        size = sum(p.stat().st_size for p in ASSET_DIR.iterdir())
        print(f"flow saved to {ASSET_DIR} ({size / 1e6:.2f} MB)")
    return 0


def _clip(seed: int, frames: int):
    clip = talking_clip(seed, frames)
    return make_clip(f"synth{seed:07d}", clip.motion, clip.audio, clip.sample_rate, clip.fps), clip


def _generate(model: MotionFlow, clip, audio, *, num_samples: int) -> np.ndarray:
    return generate_motion(model, audio[clip.name], 16000, clip.fps, num_samples=num_samples, seed=0)[
        :, : clip.num_frames
    ]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def _speed(model: MotionFlow, clip, audio, threads: int) -> dict[str, float]:
    """Real-time factor = audio seconds / wall seconds of generate_motion (log-mel included), median of 5."""
    samples = audio[clip.name]
    seconds = len(samples) / 16000
    speed = {}
    for num_threads in sorted({1, 2}):
        torch.set_num_threads(num_threads)
        for k in (1, 10):
            generate_motion(model, samples, 16000, 25.0, num_samples=k)  # warm-up
            times = []
            for _ in range(5):
                start = time.perf_counter()
                generate_motion(model, samples, 16000, 25.0, num_samples=k)
                times.append(time.perf_counter() - start)
            speed[f"rtf_threads{num_threads}_K{k}"] = seconds / float(np.median(times))
    torch.set_num_threads(threads)
    return speed


if __name__ == "__main__":
    sys.exit(main())
