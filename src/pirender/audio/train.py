"""Training of the audio -> motion models: one readable function, exact NLL (or MSE for the regressor).

A run directory holds
    run.json             resolved AudioFlowConfig + AudioTrainConfig + data description
    training_state.pt    raw weights, optimizer, step (resume; loaded with weights_only=True)
    model/               config.json + model.safetensors, the released artifact (MotionFlow.load)
    tensorboard/         scalars, when tensorboard is installed
Both files are replaced atomically every `checkpoint_every` steps and at the end. Batches and noise
are pure functions of (seed, step) and the learning rate a function of step, so a resumed run is
bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from pirender.audio.config import AudioFlowConfig, AudioTrainConfig
from pirender.audio.data import CropSampler, MotionAudioClip, clip_batch, statistics
from pirender.audio.model import MotionFlow
from pirender.errors import InputError
from pirender.media.atomic import atomic_dir, atomic_path

STATE_NAME = "training_state.pt"
RUN_NAME = "run.json"
STATE_VERSION = 1
_RESUME_MAY_CHANGE = {"log_every", "checkpoint_every"}  # they do not change the trained weights


def learning_rate(step: int, cfg: AudioTrainConfig) -> float:
    """Linear warm-up, then cosine decay from lr to lr_final."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * min(1.0, progress)))


def training_loss(
    model: MotionFlow, batch: dict[str, torch.Tensor], *, data_noise: float, generator: torch.Generator
) -> torch.Tensor:
    """NLL in nats per motion dimension (flow, gaussian) or the prior mean's MSE (regressor)."""
    log_lik, squared_error = model.log_prob(
        batch["motion"],
        batch["valid"],
        batch["mel"],
        batch["mel_index"],
        data_noise=data_noise,
        generator=generator,
    )
    if model.config.kind == "regressor":
        return squared_error.mean()
    return -log_lik.mean() / model.config.motion_dim


@torch.no_grad()
def evaluate(model: MotionFlow, clips: Sequence[MotionAudioClip]) -> dict[str, float]:
    """Teacher-forced metrics over whole clips: NLL in nats per frame and the normalised MSE of the mean."""
    was_training = model.training
    model.eval()
    total_ll = total_se = frames = 0.0
    for clip in clips:
        batch = clip_batch(clip, history=model.config.history, audio_context=model.config.audio_context)
        log_lik, squared_error = model.log_prob(
            batch["motion"], batch["valid"], batch["mel"], batch["mel_index"]
        )
        total_ll += float(log_lik.sum())
        total_se += float(squared_error.sum())
        frames += log_lik.numel()
    model.train(was_training)
    return {"nll_per_frame": -total_ll / frames, "mse": total_se / frames}


def train(
    model_config: AudioFlowConfig,
    train_config: AudioTrainConfig,
    train_clips: Sequence[MotionAudioClip],
    val_clips: Sequence[MotionAudioClip],
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    progress: bool = True,
    tensorboard: bool = True,
    data_description: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> MotionFlow:
    """Train (or resume) one model; returns it in eval mode, also saved under out_dir/model/."""
    out = Path(out_dir)
    cfg = train_config
    for clip in list(train_clips) + list(val_clips):
        if clip.fps != model_config.fps:
            raise InputError(
                f"clip {clip.name} is at {clip.fps} fps but the model is configured for {model_config.fps}"
            )
    run = {"model": model_config.to_dict(), "train": cfg.to_dict(), "data": data_description or {}}
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / STATE_NAME

    with torch.random.fork_rng():  # the initial weights are a function of the seed, like the batches
        torch.manual_seed(cfg.seed)
        model = MotionFlow(model_config)
    model.set_statistics(**statistics(train_clips))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    start = 0
    if resume and state_path.exists():
        start = _load_state(state_path, model, optimizer, run)
        log(f"resumed from {state_path} at step {start}")
    elif resume:
        log(f"no {STATE_NAME} in {out}: starting a new run")
    with atomic_path(out / RUN_NAME) as tmp:
        tmp.write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")

    sampler = CropSampler(
        train_clips,
        history=model_config.history,
        crop_frames=cfg.crop_frames,
        batch_size=cfg.batch_size,
        audio_context=model_config.audio_context,
        seed=cfg.seed,
    )
    writer = _summary_writer(out / "tensorboard", log) if tensorboard else None
    bar = _progress(range(start, cfg.steps), start, cfg.steps, enabled=progress)
    model.train()
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        loss = training_loss(model, sampler.batch(step), data_noise=cfg.data_noise, generator=generator)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss at step {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            scalars = {
                "train/loss": float(loss.detach()),
                "train/grad_norm": float(grad_norm),
                "train/lr": optimizer.param_groups[0]["lr"],
            }
            if val_clips:
                scalars.update({f"val/{k}": v for k, v in evaluate(model, val_clips).items()})
            if writer is not None:
                for name, value in scalars.items():
                    writer.add_scalar(name, value, done)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix({k.split("/")[1]: f"{v:.4g}" for k, v in scalars.items() if k != "train/lr"})
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save_checkpoint(out, model, optimizer, done, run)
    if start >= cfg.steps:  # nothing left to train: still leave a released model behind
        save_checkpoint(out, model, optimizer, start, run)
    if writer is not None:
        writer.close()
    return model.eval()


def save_checkpoint(
    out: Path, model: MotionFlow, optimizer: torch.optim.Optimizer, step: int, run: dict[str, Any]
) -> None:
    """Resume state and released model, each replaced atomically."""
    state = {
        "version": STATE_VERSION,
        "step": step,
        "run": json.dumps(run),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
    }
    with atomic_path(out / STATE_NAME) as tmp:
        torch.save(state, tmp)
    with atomic_dir(out / "model") as tmp_dir:
        model.save_pretrained(tmp_dir, provenance={"step": step, "train": run["train"], "data": run["data"]})


def _load_state(path: Path, model: MotionFlow, optimizer: torch.optim.Optimizer, run: dict[str, Any]) -> int:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors come in many types
        raise InputError(f"cannot read resume state {path}: {e}") from e
    if state.get("version") != STATE_VERSION:
        raise InputError(f"{path} is not a resume state of version {STATE_VERSION}")
    saved = json.loads(state["run"])
    for key in ("model", "train"):
        diff = sorted(k for k in run[key] if saved[key].get(k) != run[key][k] and k not in _RESUME_MAY_CHANGE)
        if diff:
            raise InputError(f"cannot resume {path}: the {key} config differs in {', '.join(diff)}")
    model.load_state_dict(state["model"], strict=True)
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"])


def _summary_writer(directory: Path, log: Callable[[str], None]) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log("tensorboard is not installed: no TensorBoard logs (pip install 'pirender[train]')")
        return None
    return SummaryWriter(log_dir=str(directory))


def _progress(steps: range, start: int, total: int, *, enabled: bool) -> Any:
    if not enabled:
        return steps
    from tqdm import tqdm

    return tqdm(steps, initial=start, total=total, desc="train-audio", dynamic_ncols=True)
