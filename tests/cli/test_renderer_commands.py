"""`pirender convert` and `pirender info`: real runs, one-line errors, no partial output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import pirender
from pirender.cli.main import main


def test_convert_then_load(tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "tiny"
    assert main(["convert", str(tiny_checkpoint), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "warpping_net.hourglass.decoder.decoder4.* -> warping_net.hourglass.up.0.* (24 tensors)" in printed
    assert "every key mapped" in printed
    ours = pirender.load_renderer(out)
    official = pirender.load_renderer(tiny_checkpoint)
    for key, value in official.state_dict().items():
        assert torch.equal(value, ours.state_dict()[key])
    assert main(["info", str(out)]) == 0
    assert "pirender model directory" in capsys.readouterr().out


def test_info_official(tiny_checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["info", str(tiny_checkpoint)]) == 0
    printed = capsys.readouterr().out
    assert "official PIRender trainer checkpoint" in printed
    assert "620,685" in printed and "current_iteration: 2" in printed


def test_info_reads_the_checkpoint_once(tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pirender.weights import official

    calls = []
    read_checkpoint = official.read_checkpoint
    monkeypatch.setattr(official, "read_checkpoint", lambda path: calls.append(path) or read_checkpoint(path))
    assert main(["info", str(tiny_checkpoint)]) == 0
    assert len(calls) == 1


def test_convert_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "pirender.cli.main", "convert", str(bad), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("pirender convert: error:") and "bad.pt" in proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_unknown_command_and_missing_args(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 0
    with pytest.raises(SystemExit) as e:
        main(["info"])
    assert e.value.code == 2
    assert "required" in capsys.readouterr().err
