"""`evaluate(renderer, data)`: held-out reenactment metrics of copy-source, warp-only and full outputs.

Protocol (data.pairs.eval_items): the source is frame 0 of a test video; same-identity drives it
with frames of its own video, whose images are the ground truth; cross-identity drives it with
another identity's video (official crop-scale adjustment). On SynthHead data the cross-identity
ground truth is rendered (source identity + driving coefficients); on real data it does not exist
and only no-reference metrics apply.

Methods: "copy_source" (the source frame itself — the baseline any renderer must beat),
"warp_only" (the warped image) and "full" (the output). Metrics: PSNR, SSIM, L1 (eval.metrics);
LPIPS when its two weight files are given; AED/APD (mean |Δ| of expression and angle coefficients
re-extracted from the output vs from the target) when a motion extractor is available. Sharpness:
the mean variance of the Laplacian on the face region (eval.metrics.laplacian_variance) as a ratio to
the ground truth's (1 = as much high-frequency energy as the truth; a blurred output scores below 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from pirender.data.lmdb_schema import VoxLMDB
from pirender.data.pairs import EvalDataset, eval_items, synth_identity_seed
from pirender.eval import metrics
from pirender.models.renderer import PIRenderer, RenderOutput
from pirender.motion.coeffs import ANGLE, EXP

METHODS = ("copy_source", "warp_only", "full")


def evaluate(
    renderer: PIRenderer,
    data: str,
    *,
    cross_id: bool = False,
    split: str = "test",
    frames_per_video: int = 8,
    max_videos: int = 0,
    batch_size: int = 8,
    synth_truth: bool | None = None,
    lpips: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    extractor: Any | None = None,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    precision: str | None = None,
) -> dict[str, Any]:
    """Evaluate a renderer on an LMDB test split.

    Args:
        renderer: the generator (its EMA weights), any config; eval mode is set here.
        data: LMDB directory; its image size must suit the renderer.
        synth_truth: render cross-identity ground truth with SynthHead; None = when all names are
            `pirender synth` names.
        lpips: optional (B,3,H,W) x2 -> (B,) distance (eval.lpips.LPIPS).
        extractor: optional motion extractor with `.extract(frames (T,S,S,3) uint8) -> (T, 73)`.
        precision: render through the RenderEngine at this precision ("fp32", "bf16", "fp16"), as
            the pipelines do, to measure what a fast path costs; None: the plain PIRenderer forward.
    Returns:
        {"mode", "items", "ground_truth", "metrics": {method: {metric: mean}}, "skipped": [...]}
    """
    db = VoxLMDB(data)
    items = eval_items(
        db, split=split, cross_id=cross_id, frames_per_video=frames_per_video, max_videos=max_videos
    )
    if synth_truth is None:
        synth_truth = cross_id and all(synth_identity_seed(i.source_video) is not None for i in items)
    dataset = EvalDataset(
        data,
        items,
        split=split,
        size=db.size,
        radius=renderer.config.semantic_radius,
        synth_truth=bool(synth_truth),
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
    renderer = renderer.to(device).eval()
    render = (
        _plain_render(renderer)
        if precision is None
        else _engine_render(renderer, device, precision, batch_size)
    )
    skipped = []
    if not dataset.has_truth:
        skipped.append("PSNR/SSIM/L1/LPIPS: no ground truth for cross-identity pairs of real data")
    if lpips is None:
        skipped.append("LPIPS: pass --lpips-vgg16 and --lpips-heads (local weight files) to compute it")
    if extractor is None:
        skipped.append("AED/APD: no motion extractor available")
    skipped.append("FID: not implemented (needs an Inception-v3 port and its weights as a local file)")

    sums: dict[str, dict[str, float]] = {m: {} for m in METHODS}
    coeffs: dict[str, list[np.ndarray]] = {m: [] for m in (*METHODS, "target")}
    count = 0
    detail = {m: 0.0 for m in (*METHODS, "target")}
    with torch.no_grad():
        for batch in loader:
            source = batch["source_image"].to(device)
            target = batch["target_image"].to(device)
            out = render(source, batch["driving_coeffs"].to(device), batch["source_coeffs"].to(device))
            outputs = {"copy_source": source, "warp_only": out.warped_image, "full": out.image.clamp(-1, 1)}
            count += source.shape[0]
            detail["target"] += float(metrics.laplacian_variance(target).double().sum())
            for method, image in outputs.items():
                detail[method] += float(metrics.laplacian_variance(image).double().sum())
                if dataset.has_truth:
                    _add(sums[method], "psnr", metrics.psnr(image, target))
                    _add(sums[method], "ssim", metrics.ssim(image, target))
                    _add(sums[method], "l1", metrics.l1(image, target))
                    if lpips is not None:
                        _add(sums[method], "lpips", lpips(image, target))
                if extractor is not None:
                    coeffs[method].append(extractor.extract(_to_uint8(image)))
            if extractor is not None:
                coeffs["target"].append(extractor.extract(_to_uint8(target)))
    results = {m: {k: v / count for k, v in sums[m].items()} for m in METHODS}
    if dataset.has_truth:
        for method in METHODS:
            results[method]["sharpness"] = detail[method] / max(detail["target"], 1e-12)
    if extractor is not None:
        reference = np.concatenate(coeffs["target"])
        for method in METHODS:
            predicted = np.concatenate(coeffs[method])
            results[method]["aed"] = float(np.abs(predicted[:, EXP] - reference[:, EXP]).mean())
            results[method]["apd"] = float(np.abs(predicted[:, ANGLE] - reference[:, ANGLE]).mean())
    truth = "frames" if not cross_id else ("synthhead" if synth_truth else None)
    return {
        "mode": "cross_id" if cross_id else "same_id",
        "precision": precision or "plain fp32 forward",
        "items": count,
        "videos": len({i.driving_video for i in items}),
        "ground_truth": truth,
        "metrics": results,
        "skipped": skipped,
    }


Render = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], RenderOutput]


def _plain_render(renderer: PIRenderer) -> Render:
    """(source (B,3,H,W), windows (B,73,27), source_coeffs (B,73)) -> RenderOutput: the plain forward."""

    def render(source: torch.Tensor, windows: torch.Tensor, own: torch.Tensor) -> RenderOutput:
        return renderer(source, windows, source_coeffs=own)

    return render


def _engine_render(
    renderer: PIRenderer, device: str | torch.device, precision: str, batch_size: int
) -> Render:
    """The same through the RenderEngine (outputs on `device`)."""
    from pirender.engine import RenderEngine

    engine = RenderEngine(renderer, device=device, precision=precision, batch_size=batch_size)

    def render(source: torch.Tensor, windows: torch.Tensor, own: torch.Tensor) -> RenderOutput:
        out = engine.render(source, windows, source_coeffs=own)
        return RenderOutput(out.flow.to(device), out.warped_image.to(device), out.image.to(device))

    return render


def _add(acc: dict[str, float], name: str, values: torch.Tensor) -> None:
    acc[name] = acc.get(name, 0.0) + float(values.double().sum())


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def load_extractor() -> tuple[Any | None, str | None]:
    """The SynthHead motion extractor if it is installed, else (None, reason)."""
    try:
        from pirender.motion.extract.synthhead import SynthHeadExtractor

        return SynthHeadExtractor.load(), None
    except Exception as e:  # absent module or weights: AED/APD are optional
        return None, f"{type(e).__name__}: {e}"


def format_report(report: dict[str, Any]) -> str:
    """A small text table: one row per method, one column per metric."""
    names = sorted({k for m in report["metrics"].values() for k in m})
    lines = [
        f"{report['mode']}: {report['items']} frames of {report['videos']} videos "
        f"(ground truth: {report['ground_truth'] or 'none'}; {report.get('precision', 'plain fp32 forward')})",
        f"{'method':<12}" + "".join(f"{n:>10}" for n in names),
    ]
    for method, values in report["metrics"].items():
        cells = "".join(
            f"{values[n]:>10.4f}" if n in values and math.isfinite(values[n]) else f"{'-':>10}" for n in names
        )
        lines.append(f"{method:<12}{cells}")
    lines += [f"skipped: {s}" for s in report["skipped"]]
    return "\n".join(lines)
