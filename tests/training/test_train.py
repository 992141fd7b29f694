"""Training acceptance tests on a tiny config and a SynthHead LMDB made in the fixture (CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import lmdb
import pytest
import torch

from pirender import PIRenderer, RendererConfig, load_renderer
from pirender.cli.main import main
from pirender.data.pairs import PairDataset
from pirender.errors import InputError
from pirender.losses.perceptual import build_losses
from pirender.training import checkpoint as ckpt
from pirender.training.config import apply_overrides
from pirender.training.distributed import DistEnv
from pirender.training.loop import train, train_step
from pirender.training.stages import Stage, build_optimizer_and_scheduler, set_trainable

from .conftest import tiny_config

REPO = Path(__file__).resolve().parents[2]
CPU = DistEnv(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def _subprocess_env(threads: int | None = None) -> dict[str, str]:
    # Bit-identical CPU results need the same number of threads in every process compared.
    threads = threads or torch.get_num_threads()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(REPO / "src"))
    env.pop("PIRENDER_DEBUG", None)
    return env


@pytest.mark.parametrize("stage", [Stage("warp", 0), Stage("full", 0)])
def test_a_step_lowers_the_loss_on_a_fixed_batch(synth_lmdb: Path, tmp_path: Path, stage: Stage) -> None:
    """Random-weight VGG19 perceptual (+ style in the full stage) loss, 3 steps on one batch."""
    config = apply_overrides(tiny_config(synth_lmdb, tmp_path), {"optim.lr": "1e-3", "loss.num_scales": "1"})
    data = PairDataset(str(synth_lmdb), size=64)
    batch = torch.utils.data.default_collate([data[(0, 0, 0, 0)]])  # one pair, used both ways
    torch.manual_seed(0)
    model = PIRenderer(config.renderer)
    warp_loss, final_loss, name = build_losses("vgg19_random", num_scales=1, style_weight=250.0)
    assert name == "vgg19_random"
    optimizer, scheduler = build_optimizer_and_scheduler(set_trainable(model, stage), stage, config.optim)
    editing_before = [p.clone() for p in model.editing_net.parameters()]
    losses = [train_step(model, batch, warp_loss, final_loss, optimizer, scheduler, stage, config, CPU).total
              for _ in range(3)]  # fmt: skip
    assert all(map(torch.isfinite, map(torch.tensor, losses)))
    assert losses[-1] < losses[0]
    unchanged = all(
        torch.equal(a, b) for a, b in zip(editing_before, model.editing_net.parameters(), strict=True)
    )
    assert unchanged == stage.warp_only  # the warp stage never touches the editing network


def test_stage_switch_recreates_the_optimizer(synth_lmdb: Path, tmp_path: Path) -> None:
    config = tiny_config(synth_lmdb, tmp_path / "run", total_steps=3, warp_steps=2, checkpoint_every=1,
                         keep_checkpoints=2, tensorboard=True, image_every=3)  # fmt: skip
    result = train(config, progress=False)
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert result.finished and (tmp_path / "run" / "model" / "model.safetensors").is_file()
    kept = ckpt.list_checkpoints(tmp_path / "run")
    assert [p.name for p in kept] == ["step_000000002", "step_000000003"]  # keep the last N
    warp_state, full_state = (ckpt.load_training_state(p) for p in kept)
    model = PIRenderer(config.renderer)
    n_warp = len(set_trainable(model, Stage("warp", 0)))
    n_full = len(set_trainable(model, Stage("full", 2)))
    assert warp_state["stage"] == "warp" and full_state["stage"] == "full"
    assert len(warp_state["optimizer"]["state"]) == n_warp
    assert len(full_state["optimizer"]["state"]) == n_full > n_warp
    # Fresh Adam at step 2: after one full-stage step its moments have seen exactly one step.
    assert {float(s["step"]) for s in warp_state["optimizer"]["state"].values()} == {2.0}
    assert {float(s["step"]) for s in full_state["optimizer"]["state"].values()} == {1.0}
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["loss_backbone"] == "l1"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["warp_steps"] == 2
    meta = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert meta["provenance"]["loss_backbone"] == "l1" and meta["provenance"]["steps"] == 3
    assert (
        meta["image_size"] == 64 and "image_size" not in meta["provenance"]
    )  # what the pipelines resize sources to


def test_kill_and_resume_is_bit_identical(synth_lmdb: Path, tmp_path: Path) -> None:
    overrides = {"total_steps": 6, "warp_steps": 3, "checkpoint_every": 100, "log_every": 1}
    reference = train(tiny_config(synth_lmdb, tmp_path / "a", **overrides), progress=False)
    # The same run in a subprocess, SIGTERM'd after its first logged step.
    cmd = [sys.executable, "-m", "pirender.cli.main", "train", "--preset", "synthhead_tiny", "--no-progress",
           "--data.path", str(synth_lmdb), "--run_dir", str(tmp_path / "b"), "--data.batch_size", "1",
           "--loss.backbone", "l1", *[a for k, v in overrides.items() for a in (f"--{k}", str(v))]]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_subprocess_env()
    )
    for line in proc.stdout:
        if line.startswith("step 1/"):
            proc.send_signal(signal.SIGTERM)
            break
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    stopped = ckpt.load_training_state(tmp_path / "b")
    assert 1 <= stopped["step"] < 6, "the subprocess was not interrupted"
    assert not (tmp_path / "b" / "model").exists()
    # Resume through the CLI: the config comes back from the training state.
    assert main(["train", "--resume", str(tmp_path / "b"), "--no-progress"]) == 0
    assert (tmp_path / "b" / "model" / "model.safetensors").is_file()
    a, b = ckpt.load_training_state(reference.run_dir), ckpt.load_training_state(tmp_path / "b")
    assert b["step"] == 6
    for key in ("generator", "ema"):
        assert a[key].keys() == b[key].keys()
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    assert all(torch.equal(s["exp_avg"], b["optimizer"]["state"][i]["exp_avg"])
               for i, s in a["optimizer"]["state"].items())  # fmt: skip


def test_two_processes_under_torchrun_agree(synth_lmdb: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "pirender.cli.main", "train", "--preset", "synthhead_tiny", "--no-progress",
           "--data.path", str(synth_lmdb), "--run_dir", str(run_dir), "--data.batch_size", "1",
           "--loss.backbone", "l1", "--total_steps", "2", "--warp_steps", "1", "--checkpoint_every", "2"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_subprocess_env(1), timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = json.loads((run_dir / "final_state.json").read_text())
    assert final["world_size"] == 2 and final["step"] == 2
    assert len(final["digests"]) == 2 and final["digests"][0] == final["digests"][1]
    state = ckpt.load_training_state(run_dir)
    exported = load_renderer(run_dir / "model")
    ema = ckpt.load_generator(state, "ema")  # synthhead_tiny standardizes: folded as on export
    assert all(torch.equal(v, ema.state_dict()[k]) for k, v in exported.state_dict().items())
    assert state["world_size"] == 2


def test_init_from_the_tiny_official_checkpoint(
    synth_lmdb: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    config = tiny_config(
        synth_lmdb, tmp_path / "run", total_steps=1, warp_steps=1, **{"renderer.descriptor_nc": 8}
    )  # fmt: skip  (replaced by the checkpoint's)
    result = train(config, init_from=tiny_checkpoint, progress=False)
    official = load_renderer(tiny_checkpoint)
    assert official.config == RendererConfig.tiny()
    state = ckpt.load_training_state(result.run_dir)
    assert json.loads(state["config"])["renderer"] == RendererConfig.tiny().to_dict()
    start = official.state_dict()
    # One warp step: the editing network is untouched, the warping network moved.
    editing = [k for k in start if k.startswith("editing_net.")]
    assert all(
        torch.equal(state["generator"][k], start[k]) and torch.equal(state["ema"][k], start[k])
        for k in editing
    )
    assert not torch.equal(
        state["generator"]["warping_net.flow_conv.weight"], start["warping_net.flow_conv.weight"]
    )


def _damage(lmdb_dir: Path, *, mode: str) -> str:
    env = lmdb.open(str(lmdb_dir / "64"), map_size=1 << 30)
    with env.begin(write=True) as txn:
        keys = [bytes(k).decode() for k, _ in txn.cursor()]
        videos = (lmdb_dir / "train_list.txt").read_text().split()
        for video in videos:
            if mode == "missing":
                for k in keys:
                    if k.startswith(f"{video}-0"):
                        txn.delete(k.encode())
            else:
                txn.put(f"{video}-coeff_3dmm".encode(), b"garbage")
    env.close()
    return "missing in LMDB" if mode == "missing" else "coeff_3dmm"


@pytest.mark.parametrize(("mode", "workers"), [("missing", 0), ("corrupt", 1)])
def test_a_bad_lmdb_entry_stops_with_the_key(lmdb_copy: Path, tmp_path: Path, mode: str, workers: int,
                                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    expected = _damage(lmdb_copy, mode=mode)
    config = tiny_config(lmdb_copy, tmp_path / "run", **{"data.num_workers": workers})
    with pytest.raises(InputError, match=r"key 'synth\d{5}#v\d{3}-") as info:
        train(config, progress=False)
    assert expected in str(info.value) and "Traceback" not in str(info.value)
    # (a corrupt coefficient row may stop the run before it writes its run dir: give the CLI the config)
    (tmp_path / "config.json").write_text(config.to_json(), encoding="utf-8")
    code = main(["train", "--config", str(tmp_path / "config.json"), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("pirender train: error: key 'synth") and expected in err[-1]


def test_time_limit_checkpoints_and_stops(synth_lmdb: Path, tmp_path: Path) -> None:
    result = train(tiny_config(synth_lmdb, tmp_path / "run"), time_limit_s=0.0, progress=False)
    assert result.step == 1 and not result.finished and result.model_dir is None
    assert ckpt.load_training_state(tmp_path / "run")["step"] == 1
