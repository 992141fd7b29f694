"""`train(config)`: the PIRenderer training loop, as one readable function (EDM style).

Run directory (`config.run_dir`):
    config.json            the resolved TrainConfig
    run.json               loss backbone, world size, versions, resume/init sources
    checkpoints/step_*/training_state.pt   resume state (checkpoint.py), the newest `keep_checkpoints`
    tensorboard/           scalars (losses, lr, grad norm, steps/s) and image grids
    model/                 the EMA generator (save_pretrained) once total_steps are done
    final_state.json       every process's weight digest at the end (they must agree)
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pirender.data.pairs import PairDataset, StepBatchSampler
from pirender.engine.core import bf16_supported
from pirender.errors import CheckpointError, InputError, PirenderError
from pirender.losses.change import change_weighted_l1
from pirender.losses.expression import ExpressionLoss
from pirender.losses.perceptual import PerceptualLoss, build_losses
from pirender.models.renderer import PIRenderer
from pirender.motion.coeffs import window_centres
from pirender.training import checkpoint as ckpt
from pirender.training.adversary import Adversary, build_adversary
from pirender.training.config import TrainConfig, focus_controls
from pirender.training.distributed import (
    DistEnv,
    any_across,
    gather_strings,
    init_distributed,
    mean_across,
    shutdown,
    state_digest,
)
from pirender.training.ema import ema_decay, make_ema, update_ema
from pirender.training.stages import (
    Stage,
    build_optimizer_and_scheduler,
    init_weights,
    set_trainable,
    stage_at,
)
from pirender.training.standardize import coefficient_stats, plain_renderer, standardize


@dataclass
class TrainResult:
    run_dir: Path
    step: int  # global steps done
    finished: bool  # reached total_steps (and exported the model)
    model_dir: Path | None
    backbone: str


@dataclass
class StepMetrics:
    total: float
    warp: float
    final: float
    style: float
    pixel: float
    gan: float
    feature_matching: float
    disc: float
    expression: float
    region: float
    change: float
    grad_norm: float
    lr: float


def train(
    config: TrainConfig,
    *,
    resume: str | Path | None = None,
    init_from: str | Path | None = None,
    stop_at_step: int | None = None,
    time_limit_s: float | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train (or resume training) a renderer; works as one process or under torchrun.

    Args:
        config: the resolved configuration (data.path must name an LMDB).
        resume: a run dir / checkpoint dir / training_state.pt to continue bit-identically from.
        init_from: an official checkpoint or a pirender model dir whose weights start the run
            (its architecture replaces config.renderer; no optimizer state is needed).
        stop_at_step: stop (and checkpoint) when this global step is reached, before total_steps.
        time_limit_s: stop (and checkpoint) after the step during which this much wall time has
            passed (e.g. a cluster job's limit); resume later with `resume`.
        progress: show a progress bar on rank 0.
    """
    env = init_distributed(config.device)
    try:
        return _train(
            config,
            env,
            resume=resume,
            init_from=init_from,
            stop_at_step=stop_at_step,
            time_limit_s=time_limit_s,
            progress=progress,
        )
    finally:
        shutdown(env)


def _train(config, env: DistEnv, *, resume, init_from, stop_at_step, time_limit_s, progress) -> TrainResult:
    if config.precision == "bf16" and not bf16_supported(env.device):
        raise InputError(
            f"precision=bf16: this {env.device.type} has no native bf16 (emulated bf16 is slower than fp32); "
            "use precision=fp32"
        )
    if not config.data.path:
        raise InputError("data.path is not set: pass --data.path LMDB_DIR (or --set data.path=...)")
    run_dir = Path(config.run_dir)

    # 1. Model, EMA and starting weights (fresh init, --init-from, or --resume).
    state = ckpt.load_training_state(resume) if resume is not None else None
    if init_from is not None and state is None:
        from pirender.models.loading import load_renderer

        start = load_renderer(init_from)
        if config.renderer.source_conditioning and not start.config.source_conditioning:
            start = start.with_source_conditioning()  # the new layer zero: the same output to start
            _say(env, f"init-from {init_from}: source conditioning added (its layer zero)")
        if start.config != config.renderer:
            _say(env, f"init-from {init_from}: using its architecture {start.config}")
            config = dataclasses.replace(config, renderer=start.config)
    torch.manual_seed(config.seed)
    model = PIRenderer(config.renderer, image_size=config.data.size)
    init_weights(model, config.init)
    if init_from is not None and state is None:
        model.load_state_dict(start.state_dict(), strict=True)
    coeff_stats = _coefficient_stats(config, state)
    if coeff_stats is not None:  # an exact reparametrization of mapping.first (training/standardize.py)
        standardize(model, *coeff_stats, keep_function=init_from is not None and state is None)
    ema = make_ema(model)
    step = 0
    if state is not None:
        if json.loads(state["config"])["renderer"] != config.renderer.to_dict():
            raise InputError(f"{state['path']}: its renderer architecture differs from the configured one")
        model.load_state_dict(state["generator"], strict=True)
        ema.load_state_dict(state["ema"], strict=True)
        step = int(state["step"])
    model.to(env.device)
    ema.to(env.device)
    decay = ema_decay(config.ema_half_life_steps)

    # 2. Losses (VGG19 from a local file, or the measured fallback with one clear warning).
    with warnings.catch_warnings():
        if not env.is_main:
            warnings.simplefilter("ignore")
        warp_loss, final_loss, backbone = build_losses(
            config.loss.backbone,
            vgg_weights=config.loss.vgg_weights,
            backbone_file=config.loss.backbone_file,
            num_scales=config.loss.num_scales,
            style_weight=config.loss.style_weight,
        )
    if state is not None and state["backbone"] != backbone:
        raise InputError(
            f"{state['path']}: trained with loss backbone {state['backbone']!r}, now {backbone!r}"
        )
    warp_loss.to(env.device)
    final_loss.to(env.device)
    extra = _ExtraLosses(
        pixel=PerceptualLoss(None, num_scales=config.loss.num_scales).to(env.device)
        if config.loss.pixel_weight > 0
        else None,
        adversary=build_adversary(config, env.device, distributed=env.distributed, local_rank=env.local_rank)
        if config.loss.gan_weight > 0
        else None,
        expression=_expression_loss(config).to(env.device)
        if config.loss.expression_weight > 0 or config.loss.region_weight > 0
        else None,
    )
    if state is not None and extra.adversary is not None and "discriminator" in state:
        extra.adversary.load(state)

    # 3. Optimizer for the current stage (re-created at every stage start; restored on resume).
    stage = stage_at(step, config)
    ddp_model, optimizer, scheduler = _enter_stage(model, stage, config, env)
    if state is not None and state["stage"] == stage.name:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    if state is not None:
        ckpt.set_rng_state(state["rng"])

    # 4. Run dir, logging, data.
    end_step = min(config.total_steps, stop_at_step or config.total_steps)
    writer = _prepare_run_dir(run_dir, config, env, backbone=backbone, resume=state, init_from=init_from)
    loader = _make_loader(config, env, start_step=step, end_step=end_step)
    stop = _StopSignal()
    bar = _progress(env, progress, step, config.total_steps)
    t_start = t_last = time.perf_counter()
    step_last = step

    # 5. The loop: one optimizer step per batch of pairs.
    try:
        for batch in _batches(loader):
            if stage_at(step, config) != stage:  # warp -> full: fresh optimizer and schedule
                stage = stage_at(step, config)
                del ddp_model
                ddp_model, optimizer, scheduler = _enter_stage(model, stage, config, env)
                _say(env, f"step {step}: entering the {stage.name} stage (optimizer re-created)")
            metrics = train_step(
                ddp_model, batch, warp_loss, final_loss, optimizer, scheduler, stage, config, env, extra
            )
            update_ema(ema, model, decay=decay)
            step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{metrics.total:.4f}", stage=stage.name, refresh=False)
            if step % config.log_every == 0 or step == end_step:
                rate = (step - step_last) / max(time.perf_counter() - t_last, 1e-9)
                t_last, step_last = time.perf_counter(), step
                _log_scalars(writer, env, step, metrics, rate, stage, config.total_steps, bar is None)
            if writer is not None and config.image_every and step % config.image_every == 0:
                _log_images(writer, ema, batch, step, stage, env)
            out_of_time = time_limit_s is not None and time.perf_counter() - t_start >= time_limit_s
            stopping = any_across(stop.requested or out_of_time, env)
            if step % config.checkpoint_every == 0 or step == end_step or stopping:
                _save(
                    run_dir, config, env, model, ema, optimizer, scheduler, step, stage, backbone, coeff_stats,
                    extra.adversary,
                )  # fmt: skip
            if stopping:
                why = "by signal" if stop.requested else "at the time limit"
                _say(env, f"stopped {why} at step {step}; resume with --resume {run_dir}")
                break
    finally:
        stop.restore()
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()

    # 6. The end: check that every process holds the same weights, export the EMA generator.
    finished = step >= config.total_steps
    digests = gather_strings(state_digest(model) + ":" + state_digest(ema), env)
    if env.is_main:
        (run_dir / "final_state.json").write_text(
            json.dumps({"step": step, "world_size": env.world_size, "digests": digests}, indent=2) + "\n"
        )
    if len(set(digests)) != 1:
        raise RuntimeError(f"processes disagree on the weights at step {step}: {digests}")
    model_dir = None
    if finished and env.is_main:
        provenance = {
            "trained_by": "pirender train",
            "steps": step,
            "loss_backbone": backbone,
            "data": config.data.path,
            "ema_half_life_steps": config.ema_half_life_steps,
            "init_from": str(init_from) if init_from else None,
        }
        model_dir = plain_renderer(ema).save_pretrained(run_dir / "model", provenance=provenance)
        _say(env, f"exported the EMA generator to {model_dir}")
    return TrainResult(run_dir=run_dir, step=step, finished=finished, model_dir=model_dir, backbone=backbone)


def train_step(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    warp_loss: PerceptualLoss,
    final_loss: PerceptualLoss,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    stage: Stage,
    config: TrainConfig,
    env: DistEnv,
    extra: _ExtraLosses | None = None,
) -> StepMetrics:
    """One optimizer step on a batch of B pairs.

    Each pair is used in both directions, as the official trainer does: the batch of 2B renders is
    (source driven by the target's motion -> target) and (target driven by the source's -> source).
    Warp stage: loss = w_warp·PL(warped, truth). Full stage adds w_final·(PL + w_style·Gram)(image, truth),
    and, when configured (not official), w_pixel·L1 pyramid + w_gan·(GAN + w_fm·feature matching) +
    w_expression·expression consistency + w_region·mouth/eye-window L1 + w_change·change-weighted L1 on the image, followed by one discriminator step.
    """
    extra = extra or _ExtraLosses()
    device = env.device
    source, target = batch["source_image"].to(device), batch["target_image"].to(device)
    images = torch.cat([source, target])  # (2B, 3, H, W)
    driving = torch.cat([batch["target_coeffs"], batch["source_coeffs"]]).to(device)  # (2B, 73, 2r+1)
    truth = torch.cat([target, source])
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16) if config.precision == "bf16" else nullcontext()
    )
    with autocast:
        own = window_centres(torch.cat([batch["source_coeffs"], batch["target_coeffs"]])).to(
            device
        )  # (2B, 73)
        out = model(images, driving, source_coeffs=own, warp_only=stage.warp_only)
        warp = warp_loss(out.warped_image, truth)
        loss = config.loss.warp_weight * warp.total
        final_p = final_s = pixel = gan = fm = disc = expression = region = change = loss.new_zeros(())
        if not stage.warp_only:
            final = final_loss(out.image, truth)
            loss = loss + config.loss.final_weight * final.total
            final_p, final_s = final.perceptual, final.style
            if extra.pixel is not None:
                pixel = extra.pixel(out.image, truth).total
                loss = loss + config.loss.pixel_weight * pixel
            if extra.adversary is not None:
                gan, fm = extra.adversary.generator_terms(out.image.float(), truth)
                loss = loss + config.loss.gan_weight * (gan + extra.adversary.feature_matching_weight * fm)
            truth_coeffs = window_centres(driving)  # the truth's own coefficients
            if config.loss.expression_weight > 0 and extra.expression is not None:
                expression = extra.expression(out.image, truth, truth_coeffs)
                loss = loss + config.loss.expression_weight * expression
            if config.loss.region_weight > 0 and extra.expression is not None:
                region = extra.expression.region(out.image, truth, truth_coeffs)
                loss = loss + config.loss.region_weight * region
            if config.loss.change_weight > 0:
                change = change_weighted_l1(
                    out.image,
                    truth,
                    images,
                    threshold=config.loss.change_threshold,
                    dilation=config.loss.change_dilation,
                    normalize=config.loss.change_normalize,
                )
                loss = loss + config.loss.change_weight * change
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for g in optimizer.param_groups for p in g["params"]]
    max_norm = config.optim.grad_clip if config.optim.grad_clip > 0 else math.inf
    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    lr = optimizer.param_groups[0]["lr"]  # the lr actually used by this step
    optimizer.step()
    scheduler.step()
    if extra.adversary is not None and not stage.warp_only:
        with autocast:
            disc = extra.adversary.step(out.image.float(), truth)
    terms = (loss, warp.total, final_p, final_s, pixel, gan, fm, disc, expression, region, change, grad_norm)
    values = torch.stack([t.detach().float() for t in terms])
    return StepMetrics(*values.cpu().tolist(), lr=lr)


@dataclass
class _ExtraLosses:
    """The configured terms beyond the official recipe (None = off)."""

    pixel: PerceptualLoss | None = None
    adversary: Adversary | None = None
    expression: ExpressionLoss | None = None


def _expression_loss(config: TrainConfig) -> ExpressionLoss:
    try:
        return ExpressionLoss.load(config.loss.expression_extractor)
    except CheckpointError as e:
        raise InputError(
            f"loss.expression_weight and region_weight need the SynthHead extractor: {e}"
        ) from None


def _enter_stage(model: PIRenderer, stage: Stage, config: TrainConfig, env: DistEnv):
    params = set_trainable(model, stage)
    optimizer, scheduler = build_optimizer_and_scheduler(params, stage, config.optim)
    wrapped: nn.Module = model
    if env.distributed:
        # Built per stage, after requires_grad is set: every trainable parameter is used in every
        # step, so no find_unused_parameters. No buffers in the renderer.
        wrapped = nn.parallel.DistributedDataParallel(
            model, device_ids=[env.local_rank] if env.device.type == "cuda" else None, broadcast_buffers=False
        )
    return wrapped, optimizer, scheduler


def _make_loader(config: TrainConfig, env: DistEnv, *, start_step: int, end_step: int):
    dataset = PairDataset(
        config.data.path,
        split="train",
        size=config.data.size,
        radius=config.renderer.semantic_radius,
        cross_video_prob=config.data.cross_video_prob,
        near_pair_prob=config.data.near_pair_prob,
        near_pair_max_gap=config.data.near_pair_max_gap,
        expression_pair_prob=config.data.expression_pair_prob,
        expression_pair_candidates=config.data.expression_pair_candidates,
        edit_pair_prob=config.data.edit_pair_prob,
        edit_pose_share=config.data.edit_pose_share,
        edit_focus=focus_controls(config.data.edit_focus),
        edit_focus_share=config.data.edit_focus_share,
        edit_neutral_share=config.data.edit_neutral_share,
    )
    sampler = StepBatchSampler(
        batch_size=config.data.batch_size,
        seed=config.seed,
        rank=env.rank,
        start_step=start_step,
        end_step=end_step,
    )
    workers = config.data.num_workers
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        worker_init_fn=_worker_init,
        persistent_workers=False,
        prefetch_factor=2 if workers else None,
        pin_memory=env.device.type == "cuda",
    )


def _batches(loader):
    """Iterate the loader; a data error raised in a worker comes back with its one-line message
    (DataLoader re-raises it with the worker's traceback folded into the text)."""
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except PirenderError as e:
            text = str(e)
            if text.startswith("Caught "):
                last = [line for line in text.splitlines() if line.strip()][-1]
                raise type(e)(last.split(": ", 1)[-1]) from None
            raise
        yield batch


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # decoding workers must not compete with the training threads


def _coefficient_stats(config: TrainConfig, state: dict[str, Any] | None):
    """(mean, std) of the training coefficients when config.standardize_coeffs, else None. A resumed
    run keeps the statistics it started with (they are part of its parametrization)."""
    if not config.standardize_coeffs:
        return None
    if state is not None:
        saved = state.get("coeff_stats")
        if saved is None:
            raise InputError(f"{state['path']}: trained without standardize_coeffs; resume with it off")
        return saved["mean"], saved["std"]
    dataset = PairDataset(config.data.path, split="train", size=config.data.size,
                          radius=config.renderer.semantic_radius)  # fmt: skip
    return coefficient_stats(dataset.coefficient_rows())


def _save(run_dir, config, env, model, ema, optimizer, scheduler, step, stage, backbone, coeff_stats,
          adversary=None) -> None:  # fmt: skip
    if env.is_main:
        state: dict[str, Any] = {
            "step": step,
            "stage": stage.name,
            "config": config.to_json(),
            "backbone": backbone,
            "generator": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "ema": {k: v.detach().cpu() for k, v in ema.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": ckpt.rng_state(),
            "world_size": env.world_size,
        }
        if adversary is not None:
            state.update(adversary.state())
        if coeff_stats is not None:  # generator/ema hold the standardized mapping.first (V, c)
            state["coeff_stats"] = {"mean": coeff_stats[0].cpu(), "std": coeff_stats[1].cpu()}
        ckpt.save_training_state(run_dir, state, keep=config.keep_checkpoints)


def _prepare_run_dir(run_dir: Path, config: TrainConfig, env: DistEnv, *, backbone, resume, init_from):
    if not env.is_main:
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(config.to_json() + "\n", encoding="utf-8")
    run_info = {
        "loss_backbone": backbone,
        "world_size": env.world_size,
        "device": str(env.device),
        "torch": torch.__version__,
        "resumed_from": resume["path"] if resume else None,
        "init_from": str(init_from) if init_from else None,
        "argv": sys.argv,
    }
    (run_dir / "run.json").write_text(json.dumps(run_info, indent=2) + "\n", encoding="utf-8")
    if not config.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        _say(env, "tensorboard is not installed (pip install 'pirender[train]'): no TensorBoard logs")
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))


def _log_scalars(writer, env, step, m: StepMetrics, rate, stage, total_steps, print_line) -> None:
    names = ("total", "warp_perceptual", "final_perceptual", "final_style", "final_pixel", "gan",
             "feature_matching", "discriminator", "expression", "region", "change")  # fmt: skip
    raw = [m.total, m.warp, m.final, m.style, m.pixel, m.gan, m.feature_matching, m.disc, m.expression,
           m.region, m.change]  # fmt: skip
    values = mean_across(torch.tensor(raw, device=env.device), env).tolist()
    if not env.is_main:
        return
    if writer is not None:
        for name, value in zip(names, values, strict=True):
            writer.add_scalar(f"loss/{name}", value, step)
        writer.add_scalar("train/lr", m.lr, step)
        writer.add_scalar("train/grad_norm", m.grad_norm, step)
        writer.add_scalar("train/steps_per_s", rate, step)
        writer.add_scalar("train/full_stage", float(stage.name == "full"), step)
    if print_line:  # no progress bar (e.g. output to a log file): one line per log period
        eta = (total_steps - step) / max(rate, 1e-9)
        print(
            f"step {step}/{total_steps} [{stage.name}] loss {values[0]:.4f} (warp {values[1]:.4f} "
            f"final {values[2]:.4f} style {values[3]:.5f}{_extra_text(values)}) lr {m.lr:.2e} |g| {m.grad_norm:.3f} "
            f"{rate:.2f} steps/s ETA {eta / 60:.1f} min",
            flush=True,
        )


def _extra_text(values: list[float]) -> str:
    pixel, gan, fm, disc, expression, region, change = values[4:11]
    text = f" pixel {pixel:.4f}" if pixel else ""
    text += f" gan {gan:.3f} fm {fm:.4f} D {disc:.3f}" if disc else ""
    text += f" expression {expression:.4f}" if expression else ""
    text += f" region {region:.4f}" if region else ""
    return text + (f" change {change:.4f}" if change else "")


@torch.no_grad()
def _log_images(writer, ema: PIRenderer, batch, step, stage, env) -> None:
    """One grid: rows of source | target | warped | output (EMA generator, up to 4 pairs)."""
    n = min(4, batch["source_image"].shape[0])
    source = batch["source_image"][:n].to(env.device)
    target = batch["target_image"][:n].to(env.device)
    own = window_centres(batch["source_coeffs"][:n]).to(env.device)
    out = ema(source, batch["target_coeffs"][:n].to(env.device), source_coeffs=own, warp_only=stage.warp_only)
    output = out.image if out.image is not None else torch.zeros_like(target)
    rows = torch.cat([source, target, out.warped_image, output], dim=3)  # (n, 3, H, 4W)
    grid = torch.cat(list(rows), dim=1)  # (3, nH, 4W)
    writer.add_image("pairs/source|target|warped|output", (grid.clamp(-1, 1) + 1) / 2, step)


def _progress(env: DistEnv, enabled: bool, step: int, total: int):
    if not (enabled and env.is_main and sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=step, unit="step", dynamic_ncols=True, smoothing=0.05)


def _say(env: DistEnv, message: str) -> None:
    if env.is_main:
        print(f"pirender train: {message}", file=sys.stderr, flush=True)


class _StopSignal:
    """SIGINT/SIGTERM ask the loop to finish its step, checkpoint and stop (all ranks together)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
