"""RenderEngine: the contract the pipelines use, and every torch path against PIRenderer.forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pirender.engine import RenderEngine
from pirender.engine.core import to_uint8
from pirender.engine.graph import FastRenderer, Techniques
from pirender.errors import InputError
from pirender.models.renderer import PIRenderer

TINY_FLOOR = 5e-5  # spec 10.1: tiny-config float32 tolerance


def _forward(renderer: PIRenderer, source: torch.Tensor, windows: torch.Tensor) -> torch.Tensor:
    """The reference: PIRenderer.forward one frame at a time -> (N, 3, H, W)."""
    with torch.inference_mode():
        return torch.cat([renderer(source, windows[i : i + 1]).image for i in range(windows.shape[0])])


def test_plain_path_is_bit_identical(tiny_renderer: PIRenderer, tiny_inputs) -> None:
    """Same batch composition as the forward call -> the same bits."""
    source, windows = tiny_inputs
    engine = RenderEngine(tiny_renderer, precision="fp32", batch_size=5, techniques=Techniques.reference())
    out = engine.render(source, windows)
    with torch.inference_mode():
        ref = tiny_renderer(source.expand(5, -1, -1, -1), windows)
    assert torch.equal(out.image, ref.image)
    assert torch.equal(out.warped_image, ref.warped_image)
    assert torch.equal(out.flow, ref.flow)
    # Per-frame forwards differ from one batched pass only by the batch-composition floor (spec 10).
    assert (out.image - _forward(tiny_renderer, source, windows)).abs().max().item() <= TINY_FLOOR


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_default_fp32_within_tolerance_for_any_batch(
    tiny_renderer: PIRenderer, tiny_inputs, batch_size: int
) -> None:
    source, windows = tiny_inputs
    engine = RenderEngine(tiny_renderer, precision="fp32", batch_size=batch_size)
    out = engine.render(source, windows)
    assert out.image.shape == (5, 3, 64, 64) and out.flow.shape == (5, 2, 16, 16)
    diff = (out.image - _forward(tiny_renderer, source, windows)).abs()
    assert diff.max().item() <= TINY_FLOOR
    assert diff.max().item() > 0  # the fused path really ran (it is not bit-exact by construction)


@pytest.mark.parametrize(
    "changes",
    [
        {"fused_norms": False, "cached_layernorm": True},
        {"subpixel_up": False},
        {"split_stem": False},
        {"channels_last": False},
        {"onnx_friendly": True},
        {"weight_cache": True},
        {"tap_conv": True},
        {"weight_cache": True, "tap_conv": True, "channels_last": False},
    ],
)
def test_each_technique_within_tolerance(tiny_renderer: PIRenderer, tiny_inputs, changes: dict) -> None:
    source, windows = tiny_inputs
    engine = RenderEngine(
        tiny_renderer, batch_size=2, techniques=Techniques(subpixel_up=True).with_(**changes)
    )
    out = engine.render(source, windows)
    assert (out.image - _forward(tiny_renderer, source, windows)).abs().max().item() <= TINY_FLOOR


def test_fixed_resblock_config(tiny_renderer: PIRenderer, tiny_inputs) -> None:
    """The 'fixed' res-block design (conv1/norm1 live) goes through the same fast graph."""
    from dataclasses import replace

    torch.manual_seed(3)
    fixed = PIRenderer(replace(tiny_renderer.config, resblock="fixed")).eval()
    source, windows = tiny_inputs
    out = RenderEngine(fixed, batch_size=5).render(source, windows)
    assert (out.image - _forward(fixed, source, windows)).abs().max().item() <= TINY_FLOOR


def test_subpixel_up_equals_upsample_then_conv() -> None:
    from pirender.engine.graph import _SubpixelUp

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 5, 3, padding=1)
    x = torch.randn(2, 6, 7, 9)
    expected = conv(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
    for traceable in (False, True):
        up = _SubpixelUp(conv, traceable=traceable)
        assert torch.allclose(up(x), expected, atol=1e-5, rtol=0)
    cl = _SubpixelUp(conv)(x.contiguous(memory_format=torch.channels_last))
    assert cl.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(cl, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize(("batch", "in_nc", "out_nc", "k", "size"), [(1, 6, 3, 7, 9), (3, 5, 2, 3, 8)])
def test_tap_conv_equals_conv2d(
    batch: int, in_nc: int, out_nc: int, k: int, size: int, memory_format: torch.memory_format
) -> None:
    from pirender.engine.graph import _TapConv

    torch.manual_seed(1)
    conv = torch.nn.Conv2d(in_nc, out_nc, k, padding=k // 2)
    x = torch.randn(batch, in_nc, size, size + 3).contiguous(memory_format=memory_format)
    expected = conv(x)
    out = _TapConv(conv)(x)
    assert out.shape == expected.shape
    assert torch.allclose(out, expected, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="odd square kernel"):
        _TapConv(torch.nn.Conv2d(4, 2, 4, padding=2))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_frame_workers_match_the_reference(tiny_renderer: PIRenderer, tiny_inputs, precision: str) -> None:
    """workers=2: frames rendered concurrently, returned in order, same tolerances as one worker."""
    source, windows = tiny_inputs
    torch.set_num_threads(2)  # the autouse fixture restores the session's setting afterwards
    engine = RenderEngine(tiny_renderer, precision=precision, batch_size=2, workers=2)
    assert "2-frame-workers" in engine.describe()
    out = engine.render(source, windows)  # batches of 2, 2 and 1 frames
    diff = (out.image - _forward(tiny_renderer, source, windows)).abs()
    tol = (TINY_FLOOR, TINY_FLOOR) if precision == "fp32" else (0.05, 0.005)
    assert diff.max().item() <= tol[0] and diff.mean().item() <= tol[1]
    single = RenderEngine(tiny_renderer, precision=precision, batch_size=1).render(source, windows)
    # bf16 kernels round differently with other thread counts: the fast-path bound, not the fp32 floor
    assert (out.image - single.image).abs().max().item() <= (TINY_FLOOR if precision == "fp32" else 0.05)
    assert torch.get_num_threads() == 2 and not torch.is_inference_mode_enabled()
    # per-frame sources go through the workers too
    sources = torch.cat([source, source.flip(-1), -source, source.flip(-2), source * 0.5])
    out = engine.render(sources, windows)
    with torch.inference_mode():
        expected = tiny_renderer(sources, windows).image
    assert (out.image - expected).abs().max().item() <= (TINY_FLOOR if precision == "fp32" else 0.05)


def test_render_frames_streams_uint8_batches(tiny_renderer: PIRenderer, tiny_inputs) -> None:
    source, windows = tiny_inputs
    engine = RenderEngine(tiny_renderer, batch_size=2)
    descriptors = engine.encode_motion(windows.numpy())  # numpy input accepted
    assert descriptors.shape == (5, 16, 1)
    chunks = list(engine.render_frames(source, descriptors))
    assert [c.shape for c in chunks] == [(2, 64, 64, 3), (2, 64, 64, 3), (1, 64, 64, 3)]
    assert all(c.dtype == np.uint8 for c in chunks)
    expected = to_uint8(_forward(tiny_renderer, source, windows))
    # fp32 differences of <= 5e-5 can flip a rounding by one level, never more.
    assert np.abs(np.concatenate(chunks).astype(int) - expected.astype(int)).max() <= 1
    warped = np.concatenate(list(engine.render_frames(source, descriptors, warp_only=True)))
    with torch.inference_mode():
        expected_warp = to_uint8(tiny_renderer(source.expand(5, -1, -1, -1), windows).warped_image)
    assert np.abs(warped.astype(int) - expected_warp.astype(int)).max() <= 1


def test_per_frame_sources(tiny_renderer: PIRenderer, tiny_inputs) -> None:
    source, windows = tiny_inputs
    sources = torch.cat([source, source.flip(-1), -source, source.flip(-2), source * 0.5])
    out = RenderEngine(tiny_renderer, batch_size=2).render(sources, windows)
    with torch.inference_mode():
        expected = tiny_renderer(sources, windows).image
    assert (out.image - expected).abs().max().item() <= TINY_FLOOR


def test_bf16_within_fast_path_tolerance(tiny_renderer: PIRenderer, tiny_inputs) -> None:
    """bf16 (editing convolutions only) stays within the fast-path tolerances of the issue."""
    source, windows = tiny_inputs
    engine = RenderEngine(tiny_renderer, precision="bf16", batch_size=5)
    assert "bf16" in engine.describe()
    out = engine.render(source, windows)
    diff = (out.image - _forward(tiny_renderer, source, windows)).abs()
    assert out.image.dtype == torch.float32
    assert diff.max().item() <= 0.05 and diff.mean().item() <= 0.005
    assert diff.max().item() > TINY_FLOOR  # reduced precision was really used


def test_describe_and_auto_choices(tiny_renderer: PIRenderer) -> None:
    engine = RenderEngine(tiny_renderer)
    assert engine.precision == "fp32" and engine.batch_size == 1  # fp32 on CPUs, bf16 only on request
    text = engine.describe()
    assert text.startswith("backend=torch device=cpu precision=fp32 batch=1 threads=1")
    assert "fused_norms" in text and "subpixel_up" in text and "weight_cache" in text
    assert engine.workers == 1 and "frame-workers" not in text
    assert "2-frame-workers" in RenderEngine(tiny_renderer, batch_size=2, workers=2).describe()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"precision": "int4"}, "precision"),
        ({"backend": "tensorrt"}, "backend"),
        ({"batch_size": 0}, "batch_size"),
        ({"precision": "fp16"}, "GPUs only"),
        ({"backend": "onnx", "precision": "bf16"}, "fp32"),
        ({"workers": 0}, "workers"),
        ({"workers": 2, "backend": "onnx"}, "workers > 1"),
    ],
)
def test_bad_arguments(tiny_renderer: PIRenderer, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        RenderEngine(tiny_renderer, **kwargs)


def test_bad_inputs(tiny_renderer: PIRenderer, tiny_inputs) -> None:
    source, windows = tiny_inputs
    engine = RenderEngine(tiny_renderer)
    descriptors = engine.encode_motion(windows)
    with pytest.raises(InputError, match="source_image"):
        next(engine.render_frames(torch.cat([source, source]), descriptors))
    with pytest.raises(InputError, match="multiples"):
        next(engine.render_frames(source[..., :48], descriptors))
    with pytest.raises(InputError, match="descriptors"):
        next(engine.render_frames(source, descriptors[:, :8]))
    with pytest.raises(InputError, match="driving_coeffs"):
        engine.encode_motion(windows[:, :70])


def test_fast_renderer_reference_techniques_match_render(tiny_renderer: PIRenderer, tiny_inputs) -> None:
    source, windows = tiny_inputs
    fast = FastRenderer(tiny_renderer, Techniques.reference())
    with torch.inference_mode():
        descriptor = tiny_renderer.encode_motion(windows)
        image, warped, flow = fast(source, descriptor)
        ref = tiny_renderer.render(source.expand(5, -1, -1, -1), descriptor)
        _, warped_only, _ = fast(source, descriptor, warp_only=True)
    assert (
        torch.equal(image, ref.image)
        and torch.equal(warped, ref.warped_image)
        and torch.equal(flow, ref.flow)
    )
    assert torch.equal(warped_only, ref.warped_image)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_cuda_paths(tiny_renderer: PIRenderer, tiny_inputs, precision: str) -> None:
    import copy

    source, windows = tiny_inputs
    cpu_ref = _forward(tiny_renderer, source, windows)
    engine = RenderEngine(copy.deepcopy(tiny_renderer), device="cuda", precision=precision, batch_size=5)
    diff = (engine.render(source, windows).image - cpu_ref).abs()
    tol = (1e-4, 1e-5) if precision == "fp32" else (0.05, 0.005)
    assert diff.max().item() <= tol[0] and diff.mean().item() <= tol[1]


def test_state_does_not_leak_between_batches(tiny_renderer: PIRenderer, tiny_inputs) -> None:
    """Grad mode and the thread count are restored while the caller holds a yielded batch."""
    source, windows = tiny_inputs
    torch.set_num_threads(2)  # the autouse fixture restores the session's setting afterwards
    engine = RenderEngine(tiny_renderer, batch_size=2, threads=1)
    frames = engine.render_frames(source, engine.encode_motion(windows))
    next(frames)
    assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
    assert torch.get_num_threads() == 2
    assert "threads=1" in engine.describe()
    assert sum(len(f) for f in frames) == 3


def test_from_options_is_the_one_way_pipelines_build_an_engine(tiny_renderer: PIRenderer) -> None:
    from pirender.engine.options import RuntimeOptions
    from pirender.errors import InputError

    engine = RenderEngine.from_options(
        tiny_renderer, RuntimeOptions(precision="fp32", batch_size=3, workers=2)
    )
    assert (engine.batch_size, engine.precision, engine.device.type) == (3, "fp32", "cpu")
    assert engine.image_size == tiny_renderer.image_size
    with pytest.raises(InputError, match="workers must be >= 1"):
        RuntimeOptions(workers=0)
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA device"):
            RenderEngine.from_options(tiny_renderer, RuntimeOptions(device="cuda"))
