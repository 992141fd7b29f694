"""The trainer: NLL goes down, checkpoints are complete, resume equals an uninterrupted run, CLI."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from pirender.audio import MotionFlow
from pirender.audio.data import CropSampler, statistics
from pirender.audio.train import STATE_NAME, evaluate, train
from pirender.cli.main import main
from pirender.errors import InputError


def test_short_training_lowers_the_nll(tmp_path: Path, small_config, short_training, talking_clips) -> None:
    train_clips, val_clips = talking_clips[:5], talking_clips[5:]
    initial = MotionFlow(small_config)
    initial.set_statistics(**statistics(train_clips))
    before = evaluate(initial, val_clips)["nll_per_frame"]
    cfg = dataclasses.replace(short_training, steps=40, checkpoint_every=40, log_every=20)
    model = train(small_config, cfg, train_clips, val_clips, tmp_path, progress=False, tensorboard=False)
    after = evaluate(model, val_clips)["nll_per_frame"]
    assert after < before - 50, (before, after)  # nats per 70-d frame
    assert (tmp_path / STATE_NAME).is_file() and (tmp_path / "run.json").is_file()
    assert MotionFlow.load(tmp_path).config == small_config  # the run directory loads as a model


def test_regressor_mse_goes_down(tmp_path: Path, small_config, short_training, talking_clips) -> None:
    config = dataclasses.replace(small_config, kind="regressor")
    initial = MotionFlow(config)
    initial.set_statistics(**statistics(talking_clips[:5]))
    before = evaluate(initial, talking_clips[5:])["mse"]
    cfg = dataclasses.replace(short_training, steps=30, checkpoint_every=30, log_every=30)
    model = train(
        config, cfg, talking_clips[:5], talking_clips[5:], tmp_path, progress=False, tensorboard=False
    )
    # the untrained prior already predicts "same as the previous frame" (residual mean), so 10% is real progress
    assert evaluate(model, talking_clips[5:])["mse"] < 0.9 * before


def test_resume_equals_uninterrupted(
    tmp_path: Path, small_config, short_training, talking_clips, monkeypatch
) -> None:
    def run(out: Path, **kwargs) -> MotionFlow:
        return train(
            small_config, short_training, talking_clips, [], out, progress=False, tensorboard=False, **kwargs
        )

    straight = run(tmp_path / "a")

    original = CropSampler.batch

    def interrupted(self: CropSampler, step: int) -> dict[str, torch.Tensor]:
        if step == 3:  # right after the step-3 checkpoint
            raise KeyboardInterrupt
        return original(self, step)

    monkeypatch.setattr(CropSampler, "batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b")
    monkeypatch.setattr(CropSampler, "batch", original)
    resumed = run(tmp_path / "b", resume=True)
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    with pytest.raises(InputError, match="lr"):
        train(
            small_config,
            dataclasses.replace(short_training, lr=1e-2),
            talking_clips,
            [],
            tmp_path / "b",
            resume=True,
            progress=False,
            tensorboard=False,
        )


def _write_pairs(folder: Path, make_talking, count: int) -> None:
    folder.mkdir()
    for seed in range(count):
        motion, audio, _ = make_talking(seed, 40)
        np.savez(folder / f"clip{seed}.npz", motion=motion, fps=np.float32(25.0))
        soundfile.write(str(folder / f"clip{seed}.wav"), audio, 16000)


def test_cli_trains_on_a_folder_of_pairs(tmp_path: Path, make_talking, capsys) -> None:
    _write_pairs(tmp_path / "data", make_talking, 4)
    tiny = ["--audio-context", "2", "--audio-channels", "4", "--audio-dim", "8", "--flow-steps", "1"]
    tiny += ["--coupling-hidden", "8", "--prior-hidden", "8", "--history", "2"]
    args = ["train-audio", "--data", str(tmp_path / "data"), "-o", str(tmp_path / "run"), "--no-progress"]
    args += ["--steps", "4", "--batch-size", "2", "--crop-frames", "8", "--log-every", "2", *tiny]
    assert main(args) == 0
    model = MotionFlow.load(tmp_path / "run" / "model")
    assert model.config.flow_steps == 1 and model.config.history == 2
    assert "3 training clips" in capsys.readouterr().out  # one of four held out (val_fraction 0.1)


def test_cli_reports_bad_data_in_one_line(tmp_path: Path, make_talking, capsys) -> None:
    _write_pairs(tmp_path / "data", make_talking, 1)
    (tmp_path / "data" / "clip0.wav").unlink()
    assert main(["train-audio", "--data", str(tmp_path / "data"), "-o", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "clip0.npz" in err and "no audio" in err
