"""`pirender doctor`: one screen on the installation, the user's model files and what commands need."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pirender.cli.main import main


def test_doctor_reports_installation_files_and_needs(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = tiny_checkpoint
    import hashlib

    assert main(["doctor", "--renderer", str(reference)]) == 0
    out = capsys.readouterr().out
    for title in ("installation", "bundled models", "your files", "commands"):
        assert f"\n{title}\n" in f"\n{out}"
    assert "official PIRender checkpoint" in out and "CC BY-NC 4.0" in out
    assert hashlib.sha256(reference.read_bytes()).hexdigest() in out
    assert "native bf16:" in out and "Traceback" not in out

    assert main(["doctor", "--renderer", str(tmp_path / "missing.pt"), "--checkpoint", str(reference)]) == 1
    captured = capsys.readouterr()
    assert "[--] renderer: " in captured.out and "missing.pt" in captured.out
    assert "[--] Deep3DFaceRecon checkpoint:" in captured.out and "net_recon" in captured.out
    assert captured.err == ""


def test_doctor_names_the_extra_a_command_lacks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mediapipe" else real(name, *a)
    )
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert '[--] extra faces: nothing; missing mediapipe: pip install "pirender[faces]"' in out
    assert '[--] extract: needs pip install "pirender[faces]"' in out
    assert '[--] ui: needs pip install "pirender[faces]"' in out
