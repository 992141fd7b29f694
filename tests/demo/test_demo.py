"""`pirender demo --quick` writes every output, and each one holds what it should."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

import pirender
from pirender.demo import DemoSettings, expected_outputs

SHIPPED_RENDERER = Path(pirender.__file__).parent / "assets" / "renderer_synthhead_128"


def _probe(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        has_audio = len(container.streams.audio) > 0
        return {
            "frames": frames,
            "width": video.width,
            "height": video.height,
            "audio": has_audio,
            "fps": float(video.average_rate),
        }


@pytest.fixture(scope="module")
def renderer_arg(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    """The shipped renderer when present (the real demo), else a tiny random one (same code path)."""
    path = SHIPPED_RENDERER
    if not (path / "model.safetensors").is_file():
        path = tmp_path_factory.mktemp("renderer") / "tiny"
        pirender.PIRenderer(pirender.RendererConfig.tiny()).save_pretrained(path)
    return str(path), pirender.load_renderer(path).image_size


def test_demo_quick_writes_every_output(tmp_path: Path, renderer_arg: tuple[str, int]) -> None:
    renderer, size = renderer_arg
    out = tmp_path / "demo"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pirender.cli.main",
            "demo",
            "--quick",
            "--no-progress",
            "-o",
            str(out),
            "--renderer",
            renderer,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    expected = expected_outputs(DemoSettings.quick(), size)
    for name in ("reenact", "edit_sweep", "speak"):
        path = out / f"{name}.mp4"
        assert str(path) in proc.stdout  # the paths are printed
        info = _probe(path)
        for key in ("frames", "width", "height", "audio"):
            assert info[key] == expected[name][key], (name, key, info)
        assert info["fps"] == pytest.approx(25.0)
    grid = expected["edit_grid"]
    with Image.open(out / "edit_grid.png") as image:
        assert image.size == (grid["cols"] * grid["size"], grid["rows"] * grid["size"])
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    rows = pixels.reshape(grid["rows"], grid["size"], -1, 3)
    assert all(rows[r].std() > 1 for r in range(grid["rows"]))  # rendered content, not blank rows


def test_demo_rejects_a_file_as_output_dir(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "pirender.cli.main", "demo", "-o", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "not a directory" in proc.stderr
