"""Benchmark: train a small renderer on SynthHead within a fixed time budget, then evaluate it.

    python bench/train_synthhead.py --out /tmp/bench_s128 --steps 2200 1600 --threads 1 \
        --export src/pirender/assets/renderer_synthhead_128      # the shipped demo renderer

1. Renders a SynthHead LMDB (default 128 px; test split = held-out identities).
2. Trains with `pirender.training.train` (a normal run dir: config.json, checkpoints, tensorboard),
   either for fixed step counts (`--steps WARP FULL`, reproducible) or bounded by wall time: the
   warp stage for `--warp-share` of `--minutes`, then (resumed with the actual switch step) the full
   stage for the rest.
3. Exports the EMA generator of the last checkpoint with save_pretrained.
4. Evaluates the EMA generator on the held-out identities, same- and cross-identity (SynthHead renders
   the cross-identity ground truth): PSNR / SSIM / L1 of copy-source, warp-only and full outputs.
5. Writes `<out>/report.json` and `<out>/report.md`; optionally copies the model dir to `--export`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="work directory (dataset, run, report)")
    parser.add_argument("--minutes", type=float, default=45.0, help="training time budget")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--data", type=Path, help="reuse this SynthHead LMDB instead of <out>/synth<size>")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--identities", type=int, default=50)
    parser.add_argument("--videos-per-identity", type=int, default=3)
    parser.add_argument("--frames", type=int, default=120, help="frames per video (4.8 s at 25 fps)")
    parser.add_argument("--preset", default="synthhead_small")
    parser.add_argument("--backbone", default="auto", help="loss.backbone (auto, vgg19, vgg19_random, l1)")
    parser.add_argument(
        "--steps", type=int, nargs=2, metavar=("WARP", "FULL"), help="fixed step counts instead of --minutes"
    )
    parser.add_argument("--stop-at", type=int, metavar="STEP", help="with --steps: stop at this global step")
    parser.add_argument(
        "--eval-only", action="store_true", help="export + evaluate the newest checkpoint in <out>/run"
    )
    parser.add_argument("--warp-share", type=float, default=0.3, help="share of the budget in the warp stage")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="extra config override"
    )
    parser.add_argument("--eval-frames", type=int, default=8, help="driving frames per test video")
    parser.add_argument("--export", type=Path, help="copy the trained model directory here")
    parser.add_argument(
        "--init-from", type=Path, help="with --steps: start from this model dir (its architecture is used)"
    )
    parser.add_argument(
        "--residual-editing",
        action="store_true",
        help="with --init-from: switch it to the residual editing output (final conv zeroed, so training "
        "starts from the warped image) before fine-tuning",
    )
    parser.add_argument(
        "--source-conditioning",
        action="store_true",
        help="with --init-from: give it the source's own coefficients too (RendererConfig."
        "source_conditioning; the new layer zero, so training starts from the same output)",
    )
    args = parser.parse_args()
    if args.residual_editing and not args.init_from:
        parser.error("--residual-editing needs --init-from")
    if args.source_conditioning and not args.init_from:
        parser.error("--source-conditioning needs --init-from")

    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from pirender.data.synth_dataset import SynthDatasetSpec, write_dataset
    from pirender.training.config import TrainConfig, apply_overrides, parse_assignments, preset

    args.out.mkdir(parents=True, exist_ok=True)
    data = args.data or args.out / f"synth{args.size}"
    if not data.is_dir():
        t0 = time.perf_counter()
        spec = SynthDatasetSpec(
            identities=args.identities,
            videos_per_identity=args.videos_per_identity,
            frames=args.frames,
            size=args.size,
            test_fraction=0.2,
        )
        write_dataset(data, spec)
        print(f"dataset: {data} in {time.perf_counter() - t0:.0f} s", flush=True)

    overrides = {"data.path": str(data), "data.size": args.size, "loss.backbone": args.backbone,
                 "run_dir": str(args.out / "run"), "tensorboard": True}  # fmt: skip
    overrides.update(parse_assignments(args.set))
    config = apply_overrides(preset(args.preset), overrides)

    from pirender.training import checkpoint as ckpt
    from pirender.training.loop import train

    if args.residual_editing:
        args.init_from = _residual_init(args.init_from, args.out / "init_residual")
    if args.source_conditioning:
        from pirender.models.loading import load_renderer

        args.init_from = (
            load_renderer(args.init_from)
            .with_source_conditioning()
            .save_pretrained(
                args.out / "init_source",
                provenance={"from": str(args.init_from), "note": "source layer zero"},
            )
        )

    t0 = time.perf_counter()
    result = None
    if args.eval_only:
        # Export and evaluate the newest checkpoint of an earlier (possibly interrupted) run.
        state = ckpt.load_training_state(config.run_dir)
        config = TrainConfig.from_dict(json.loads(state["config"]))
        warp_steps = min(int(state["step"]), config.warp_steps)
        steps = {"warp": warp_steps, "full": int(state["step"]) - warp_steps}
        train_s, rates = None, {}
        model_dir = _export_ema(config, state, Path(config.run_dir) / "model")
        backbone = state["backbone"]
    elif args.steps:
        # Fixed step counts: reproducible whatever the machine's speed. LR x0.2 at 80% of the run.
        warp_steps, full_steps = args.steps
        total = warp_steps + full_steps
        config = apply_overrides(
            config, {"warp_steps": warp_steps, "total_steps": total, "optim.lr_decay_every": int(0.8 * total) + 1,
                     "checkpoint_every": max(50, total // 10)},
        )  # fmt: skip
        result = train(config, init_from=args.init_from, stop_at_step=args.stop_at, progress=False)
        train_s = time.perf_counter() - t0
        steps = {"warp": min(result.step, warp_steps), "full": max(0, result.step - warp_steps)}
        rates = {"overall": result.step / train_s}
        model_dir = result.model_dir or _export_ema(
            config, ckpt.load_training_state(config.run_dir), Path(config.run_dir) / "model"
        )
    else:
        # Two phases bounded by wall time: the warp stage for `--warp-share` of the budget, then the
        # full stage until the budget is spent. Constant LR: the run length is not known in advance.
        never = 10**9
        config = apply_overrides(
            config, {"warp_steps": never, "total_steps": 2 * never, "optim.lr_decay_every": never,
                     "checkpoint_every": 500},
        )  # fmt: skip
        budget = args.minutes * 60
        warp = train(config, time_limit_s=args.warp_share * budget, progress=False)
        t_warp = time.perf_counter() - t0
        config = apply_overrides(config, {"warp_steps": warp.step, "total_steps": warp.step + never})
        result = train(config, resume=config.run_dir, time_limit_s=budget - t_warp, progress=False)
        train_s = time.perf_counter() - t0
        steps = {"warp": warp.step, "full": result.step - warp.step}
        rates = {"warp": warp.step / t_warp, "full": steps["full"] / (train_s - t_warp)}
        model_dir = _export_ema(
            config, ckpt.load_training_state(config.run_dir), Path(config.run_dir) / "model"
        )
    if result is not None:
        backbone = result.backbone
        print(f"trained {steps} steps in {train_s / 60:.1f} min ({rates} steps/s)", flush=True)

    from pirender.eval.evaluate import evaluate, format_report
    from pirender.models.loading import load_renderer

    model = load_renderer(model_dir)
    reports = {}
    for cross in (False, True):
        report = evaluate(model, str(data), cross_id=cross, frames_per_video=args.eval_frames)
        reports[report["mode"]] = report
        print(format_report(report), flush=True)
    summary = {
        "command": " ".join(sys.argv),
        "config": config.to_dict(),
        "loss_backbone": backbone,
        "threads": args.threads,
        "train_minutes": train_s / 60 if train_s is not None else None,
        "steps": steps,
        "steps_per_s": rates,
        "parameters": model.num_parameters(),
        "model_bytes": (model_dir / "model.safetensors").stat().st_size,
        "eval": reports,
    }
    (args.out / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "report.md").write_text(_markdown(summary))
    if args.export:
        if args.export.exists():
            shutil.rmtree(args.export)
        shutil.copytree(model_dir, args.export)
        print(f"exported {args.export}", flush=True)
    return 0


def _residual_init(model_dir: Path, out: Path) -> Path:
    """model_dir's renderer with editing_output="residual" and a zero final conv: it renders the warped
    image exactly (up to atanh/tanh rounding) and fine-tunes from there."""
    import dataclasses

    import torch

    from pirender.models.loading import load_renderer
    from pirender.models.renderer import PIRenderer

    base = load_renderer(model_dir)
    model = PIRenderer(dataclasses.replace(base.config, editing_output="residual"))
    model.load_state_dict(base.state_dict(), strict=True)
    with torch.no_grad():
        model.editing_net.final.weight.zero_()
        model.editing_net.final.bias.zero_()
    return model.save_pretrained(
        out, provenance={"from": str(model_dir), "note": "residual output, zero final conv"}
    )


def _export_ema(config, state: dict, directory: Path) -> Path:
    """Write the EMA generator of a training state as a model directory (save_pretrained)."""
    from pirender.training import checkpoint as ckpt

    model = ckpt.load_generator(state, "ema")
    provenance = {
        "trained_by": "bench/train_synthhead.py (pirender train)",
        "steps": int(state["step"]),
        "warp_steps": config.warp_steps,
        "loss_backbone": state["backbone"],
        "data": "SynthHead " + Path(config.data.path).name,
        "ema_half_life_steps": config.ema_half_life_steps,
    }
    return model.save_pretrained(directory, provenance=provenance)


def _markdown(s: dict) -> str:
    minutes = (
        f"{s['train_minutes']:.1f} min" if s["train_minutes"] is not None else "(time not measured here)"
    )
    lines = [
        f"loss backbone `{s['loss_backbone']}`, {s['steps']['warp']} warp + {s['steps']['full']} full steps "
        f"in {minutes} ("
        + ", ".join(f"{k} {v:.2f}" for k, v in s["steps_per_s"].items())
        + f" steps/s, {s['threads']} threads), {s['parameters']:,} parameters "
        f"({s['model_bytes'] / 1e6:.1f} MB)",
        "",
        "| pairs | method | PSNR (dB) | SSIM | L1 |",
        "|---|---|---|---|---|",
    ]
    for mode, report in s["eval"].items():
        for method, m in report["metrics"].items():
            lines.append(
                f"| {mode} ({report['items']}) | {method} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['l1']:.4f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
