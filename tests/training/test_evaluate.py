from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pirender import PIRenderer, RendererConfig
from pirender.cli.main import main
from pirender.data.lmdb_schema import VoxLMDB
from pirender.data.pairs import EvalDataset, eval_items
from pirender.eval.evaluate import METHODS, evaluate
from pirender.eval.lpips import CHANNELS, LPIPS
from pirender.synth.head import SynthHead


def test_eval_protocol_items(synth_lmdb: Path) -> None:
    db = VoxLMDB(synth_lmdb)
    same = eval_items(db, frames_per_video=3)
    assert {i.source_frame for i in same} == {0} and 0 not in {i.driving_frame for i in same}
    assert all(i.source_video == i.driving_video for i in same)
    cross = eval_items(db, cross_id=True, frames_per_video=3)
    assert all(i.source_video.split("#")[0] != i.driving_video.split("#")[0] for i in cross)
    data = EvalDataset(str(synth_lmdb), cross[:1], synth_truth=True)
    item, first = data[0], cross[0]
    # The cross-identity truth is the source identity rendered with the (crop-adjusted) motion.
    seed = int(first.source_video[5:10])
    motion = data._cross[(first.source_video, first.driving_video)][first.driving_frame]
    expected = torch.from_numpy(SynthHead(seed, 64).render(motion).astype(np.float32)) / 127.5 - 1
    torch.testing.assert_close(item["target_image"], expected.permute(2, 0, 1))


def test_evaluate_reports_every_method(synth_lmdb: Path) -> None:
    torch.manual_seed(0)
    model = PIRenderer(RendererConfig.tiny())
    report = evaluate(
        model, str(synth_lmdb), frames_per_video=2, lpips=lambda a, b: (a - b).abs().mean((1, 2, 3))
    )
    assert report["mode"] == "same_id" and report["items"] == 8 and report["ground_truth"] == "frames"
    assert set(report["metrics"]) == set(METHODS)
    for values in report["metrics"].values():
        assert set(values) == {"psnr", "ssim", "l1", "lpips", "sharpness"} and values["sharpness"] > 0
        assert 0 < values["psnr"] < 100 and -1 <= values["ssim"] <= 1
    cross = evaluate(model, str(synth_lmdb), cross_id=True, frames_per_video=2)
    assert cross["ground_truth"] == "synthhead" and cross["metrics"]["copy_source"]["psnr"] < 100
    assert any(s.startswith("AED/APD") for s in cross["skipped"])


def test_evaluate_through_the_engine(synth_lmdb: Path) -> None:
    """precision= renders through the RenderEngine: fp32 agrees with the plain forward to float
    precision, bf16 only to its reduced precision (the figure docs/performance.md quotes)."""
    torch.manual_seed(0)
    model = PIRenderer(RendererConfig.tiny())
    plain = evaluate(model, str(synth_lmdb), frames_per_video=2)
    fp32 = evaluate(model, str(synth_lmdb), frames_per_video=2, precision="fp32")
    bf16 = evaluate(model, str(synth_lmdb), frames_per_video=2, precision="bf16")
    assert plain["precision"] == "plain fp32 forward" and bf16["precision"] == "bf16"
    for method in METHODS:
        assert fp32["metrics"][method]["psnr"] == pytest.approx(plain["metrics"][method]["psnr"], abs=1e-3)
    full = plain["metrics"]["full"]["psnr"]
    assert bf16["metrics"]["full"]["psnr"] != full and bf16["metrics"]["full"]["psnr"] == pytest.approx(
        full, abs=0.5
    )


def test_lpips_from_local_files(tmp_path: Path) -> None:
    model = LPIPS()
    vgg = {k: torch.randn_like(v) * 0.05 for k, v in model.state_dict().items() if k.startswith("features.")}
    heads = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(CHANNELS)}
    torch.save(vgg, tmp_path / "vgg16.pth")
    torch.save(heads, tmp_path / "lin.pth")
    lpips = LPIPS.from_files(tmp_path / "vgg16.pth", tmp_path / "lin.pth")
    a = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.all(lpips(a, a) == 0)
    assert torch.all(lpips(a, a.flip(3)) > 0)


def test_evaluate_cli(synth_lmdb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    PIRenderer(RendererConfig.tiny()).save_pretrained(tmp_path / "model")
    out = tmp_path / "report.json"
    code = main(["evaluate", "--renderer", str(tmp_path / "model"), "--data", str(synth_lmdb),
                 "--frames-per-video", "1", "--max-videos", "2", "--json", str(out), "--no-motion-metrics"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "copy_source" in text and "warp_only" in text and "LPIPS" in text
    assert json.loads(out.read_text())["items"] == 2


def test_sharpness_is_the_laplacian_energy_of_the_face_region() -> None:
    from torch.nn import functional as F

    from pirender.eval.metrics import laplacian_variance

    torch.manual_seed(0)
    image = torch.rand(2, 3, 64, 64) * 2 - 1
    blurred = F.avg_pool2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    sharp, soft = laplacian_variance(image), laplacian_variance(blurred)
    assert sharp.shape == (2,) and bool((soft < 0.2 * sharp).all())
    flat = torch.zeros(1, 3, 64, 64)
    assert float(laplacian_variance(flat)) == 0.0
    edited_border = image.clone()
    edited_border[..., :10, :] = 0  # outside the central face region: no effect
    assert torch.equal(laplacian_variance(edited_border), sharp)


def test_a_source_conditioned_renderer_is_evaluated_with_its_sources_coefficients(synth_lmdb: Path) -> None:
    """The batch carries each source frame's own coefficients; plain forward and engine agree."""
    torch.manual_seed(0)
    model = PIRenderer(RendererConfig.tiny()).with_source_conditioning()
    torch.nn.init.normal_(model.mapping_net.source.weight, std=0.5)
    plain = evaluate(model, str(synth_lmdb), frames_per_video=2)
    engine = evaluate(model, str(synth_lmdb), frames_per_video=2, precision="fp32")
    unconditioned = evaluate(PIRenderer(RendererConfig.tiny()), str(synth_lmdb), frames_per_video=2)
    full = [r["metrics"]["full"]["psnr"] for r in (plain, engine, unconditioned)]
    assert abs(full[0] - full[1]) < 1e-3 and abs(full[0] - full[2]) > 1e-3
    db, item = VoxLMDB(synth_lmdb), eval_items(VoxLMDB(synth_lmdb), frames_per_video=1)[0]
    own = EvalDataset(str(synth_lmdb), [item])[0]["source_coeffs"]
    assert np.allclose(own.numpy(), db.motion(item.source_video)[item.source_frame])
