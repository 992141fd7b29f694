"""ONNX export and the onnxruntime backend, against the torch outputs (tiny config, 64x64)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pirender.cli.main import main
from pirender.engine import RenderEngine
from pirender.models.renderer import PIRenderer

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

ONNX_TOL = 1e-4  # onnxruntime's kernels (conv, InstanceNormalization) round differently from torch


@pytest.fixture(scope="module")
def tiny_onnx(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    assert main(["export-onnx", str(tiny_checkpoint), str(out), "--size", "64"]) == 0
    return out


def test_exported_graph_is_valid_with_dynamic_batch(tiny_onnx: Path) -> None:
    import onnx

    model = onnx.load(str(tiny_onnx))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version >= 16
    assert "GridSample" in {n.op_type for n in model.graph.node}
    inputs = {i.name: i.type.tensor_type.shape.dim for i in model.graph.input}
    assert list(inputs) == ["source_image", "descriptor"]
    assert inputs["source_image"][0].dim_param == "batch" and inputs["source_image"][2].dim_value == 64
    assert [o.name for o in model.graph.output] == ["image", "warped_image", "flow"]


@pytest.mark.parametrize("batch_size", [1, 3])
def test_onnx_backend_matches_torch(
    tiny_renderer: PIRenderer, tiny_inputs, tiny_onnx: Path, batch_size: int
) -> None:
    source, windows = tiny_inputs
    engine = RenderEngine(tiny_renderer, backend="onnx", onnx_path=tiny_onnx, batch_size=batch_size)
    assert "onnxruntime" in engine.describe()
    out = engine.render(source, windows)
    with torch.inference_mode():
        ref = tiny_renderer(source.expand(5, -1, -1, -1), windows)
    for got, want in [(out.image, ref.image), (out.warped_image, ref.warped_image), (out.flow, ref.flow)]:
        assert got.shape == want.shape
        assert (got - want).abs().max().item() <= ONNX_TOL
    frames = np.concatenate(list(engine.render_frames(source, engine.encode_motion(windows))))
    assert frames.shape == (5, 64, 64, 3) and frames.dtype == np.uint8


def test_onnx_backend_exports_on_demand(tiny_renderer: PIRenderer, tiny_inputs) -> None:
    source, windows = tiny_inputs
    engine = RenderEngine(tiny_renderer, backend="onnx", batch_size=5)
    out = engine.render(source, windows[:2])
    with torch.inference_mode():
        ref = tiny_renderer(source.expand(2, -1, -1, -1), windows[:2])
    assert (out.image - ref.image).abs().max().item() <= ONNX_TOL


def test_coeffs_input(tiny_checkpoint: Path, tiny_renderer: PIRenderer, tiny_inputs, tmp_path: Path) -> None:
    from pirender.engine.onnx import OnnxRenderer

    out = tmp_path / "coeffs.onnx"
    assert (
        main(["export-onnx", str(tiny_checkpoint), str(out), "--size", "64", "--coeffs", "--no-verify"]) == 0
    )
    source, windows = tiny_inputs
    runner = OnnxRenderer(out, device=torch.device("cpu"))
    assert runner.motion_input == "driving_coeffs"
    image, _, _ = runner.run(source.expand(5, -1, -1, -1), windows)
    with torch.inference_mode():
        ref = tiny_renderer(source.expand(5, -1, -1, -1), windows).image
    assert (image - ref).abs().max().item() <= ONNX_TOL


def test_wrong_size_is_an_input_error(tiny_renderer: PIRenderer, tiny_onnx: Path) -> None:
    from pirender.engine.onnx import OnnxRenderer
    from pirender.errors import InputError

    runner = OnnxRenderer(tiny_onnx, device=torch.device("cpu"))
    with pytest.raises(InputError, match="64x64"):
        runner.run(torch.zeros(1, 3, 96, 96), torch.zeros(1, 16, 1))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}", "{out}"], "no such file"),
        (["{bad}", "{out}"], "bad.pt"),
        (["{ckpt}", "{out}", "--size", "50"], "multiple of 32"),
        (["{ckpt}", "{out}", "--opset", "13"], "GridSample"),
        (["{ckpt}", "{tmp}/model.bin"], ".onnx"),
        (["{ckpt}", "{tmp}/no/such/dir/m.onnx"], "does not exist"),
    ],
)
def test_cli_errors_are_one_line_and_write_nothing(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 64)
    values = {
        "missing": tmp_path / "nope.pt",
        "bad": bad,
        "ckpt": tiny_checkpoint,
        "out": tmp_path / "m.onnx",
        "tmp": tmp_path,
    }
    assert main(["export-onnx", *[a.format(**values) for a in args]]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pirender export-onnx: error:") and err.count("\n") == 1
    assert message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"]  # no partial output


def test_a_source_conditioned_renderer_exports_with_descriptor_input_only(
    tiny_renderer: PIRenderer, tmp_path: Path
) -> None:
    from pirender.engine.onnx import export_onnx, verify_onnx
    from pirender.errors import InputError

    model = tiny_renderer.with_source_conditioning()
    torch.nn.init.normal_(model.mapping_net.source.weight, std=0.1)
    with pytest.raises(InputError, match="descriptor input only"):
        export_onnx(model, tmp_path / "c.onnx", image_size=64, coeffs_input=True)
    path = export_onnx(model, tmp_path / "d.onnx", image_size=64)
    assert verify_onnx(model, path) <= 1e-3
