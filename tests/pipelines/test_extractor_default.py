"""One rule for the extractor when none is named: deep3d for the official weights (or a Deep3DFaceRecon
checkpoint), the bundled SynthHead regressor otherwise; deep3d without its checkpoint fails only when
coefficients are needed, in one line that says what to give."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import pirender
from pirender.cli import common
from pirender.cli.main import main
from pirender.errors import InputError
from pirender.pipelines.models import DEFAULT_RENDERER
from pirender.weights.format import is_official


@pytest.fixture(scope="module")
def official_pt(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("official") / "epoch_00190_iteration_000400000_checkpoint.pt"
    shutil.copy(tiny_checkpoint, path)
    return path


def test_which_renderers_are_official(official_pt: Path, assets: dict[str, Path], tmp_path: Path) -> None:
    assert is_official(official_pt)
    assert main(["convert", str(official_pt), str(tmp_path / "converted"), "-q"]) == 0
    assert is_official(tmp_path / "converted") and is_official(tmp_path / "converted" / "config.json")
    assert not is_official(assets["renderer"])  # one of ours
    assert not is_official(DEFAULT_RENDERER)  # the shipped SynthHead renderer
    assert not is_official(tmp_path / "missing.pt")


@pytest.mark.parametrize(
    ("kind", "checkpoint", "official", "expected"),
    [
        (None, None, False, "synthhead"),
        (None, "epoch_20.pth", False, "deep3d"),
        (None, "mine.safetensors", False, "synthhead"),  # a SynthHead extractor's own weights
        (None, None, True, "deep3d"),
        ("synthhead", None, True, "synthhead"),  # named: always what was named
        ("deep3d", None, False, "deep3d"),
    ],
)
def test_extractor_rule(
    kind: str | None, checkpoint: str | None, official: bool, expected: str, official_pt: Path, assets: dict
) -> None:
    renderer = official_pt if official else assets["renderer"]
    assert common.extractor_kind(kind, checkpoint, renderer) == expected


def test_official_renderer_without_deep3d_checkpoint_says_what_to_give(
    official_pt: Path, assets: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="needs --extractor-checkpoint .*--extractor synthhead"):
        pirender.edit(assets["source"], renderer=official_pt, size=64, yaw=10.0)
    # Given the source's coefficients and a motion file, nothing is extracted: no checkpoint needed.
    out = pirender.reenact(
        assets["source"],
        assets["driving"],
        renderer=official_pt,
        size=64,
        source_coeffs=assets["source_coeffs"],
        output=tmp_path / "out.mp4",
    )
    assert out.is_file()


def test_cli_names_the_rule_and_fails_in_one_line(
    official_pt: Path, assets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "edited.png"
    argv = ["edit", "--source", str(assets["source"]), "--renderer", str(official_pt), "--size", "64"]
    assert main([*argv, "--yaw", "10", "-o", str(out)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "--extractor-checkpoint" in err[0] and not out.exists()
    assert main([*argv, "--yaw", "10", "--extractor", "synthhead", "-o", str(out)]) == 0 and out.is_file()
