"""Reenactment through the Python API: MP4 contents, motion modes, paste-back, layout, streaming."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

import pirender
from pirender.media.video import write_video
from pirender.motion.crop import CropTransform
from pirender.motion.sequence import Motion
from pirender.pipelines.motion_transfer import absolute_motion, relative_motion
from pirender.pipelines.render import render_coeffs
from pirender.pipelines.source import prepare_source

from .conftest import FPS, NUM_FRAMES, SIZE, face_image, make_coeffs, smooth_image


def _direct(engine: object, image: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Render coefficients straight through the engine (no pipeline logic)."""
    tensor = prepare_source(image, size=SIZE).tensor
    return np.stack(list(render_coeffs(engine, tensor, coeffs)))


def test_reenact_motion_file_writes_mp4_with_audio(assets: dict[str, Path], tmp_path: Path) -> None:
    out = pirender.reenact(
        assets["source"],
        assets["driving"],
        renderer=assets["renderer"],
        source_coeffs=assets["source_coeffs"],
        output=tmp_path / "out.mp4",
    )
    assert out == tmp_path / "out.mp4"
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert (video.codec_context.width, video.codec_context.height) == (SIZE, SIZE)
        assert float(video.average_rate) == pytest.approx(FPS)
        assert len(container.streams.audio) == 1
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == NUM_FRAMES
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary file left behind


def test_relative_and_absolute_modes(assets: dict[str, Path], engine: object) -> None:
    image = np.asarray(pirender.media.image.load_image(assets["source"]))
    driving = Motion.load(assets["driving"]).coeffs
    own = Motion.load(assets["source_coeffs"]).coeffs[0]
    kwargs = {"renderer": assets["renderer"], "source_coeffs": own}
    relative = pirender.reenact(image, assets["driving"], motion="relative", **kwargs).to_array()
    absolute = pirender.reenact(image, assets["driving"], motion="absolute", **kwargs).to_array()
    np.testing.assert_array_equal(relative, _direct(engine, image, relative_motion(driving, own)))
    np.testing.assert_array_equal(absolute, _direct(engine, image, absolute_motion(driving, own)))
    assert not np.array_equal(relative, absolute)
    # across identities (a different file) the default is relative
    auto = pirender.reenact(assets["source"], assets["driving"], **kwargs).to_array()
    np.testing.assert_array_equal(auto, relative)


def test_video_source_same_identity(assets: dict[str, Path], tmp_path: Path, engine: object) -> None:
    frames = [face_image(SIZE, seed) for seed in range(3)]
    video = tmp_path / "clip.mp4"
    write_video(video, frames, fps=10)
    driving = make_coeffs(3, 9)  # pretend these were extracted from the clip
    motion = Motion(coeffs=driving, fps=10.0)
    from pirender.pipelines.reenact import resolve_motion_mode

    assert resolve_motion_mode("auto", True) == "absolute"
    assert resolve_motion_mode("auto", False) == "relative"
    kwargs = {"renderer": assets["renderer"], "source_coeffs": driving[0], "motion": "absolute"}
    out = pirender.reenact(video, motion, **kwargs).to_array()
    first = pirender.media.video.read_video_frames(video, max_frames=1)[0]  # a video source = its first frame
    # same identity: the source's own coefficients are the driving frame 0, absolute leaves the motion as is
    np.testing.assert_array_equal(out, _direct(engine, first, driving))


def test_paste_back_keeps_outside_pixels(assets: dict[str, Path]) -> None:
    photo = smooth_image(80, 112, 3)
    box = CropTransform(
        center_x=60.0, center_y=38.0, side=48.0, size=SIZE, source_width=112, source_height=80
    )
    kwargs = {"renderer": assets["renderer"], "source_coeffs": assets["source_coeffs"], "crop": box}
    frames = pirender.reenact(photo, assets["driving"], **kwargs).to_array()
    assert frames.shape == (NUM_FRAMES, 80, 112, 3)
    x0, y0 = int(np.floor(60 - 24)), int(np.floor(38 - 24))
    inside = np.zeros((80, 112), bool)
    inside[y0 : y0 + 49, x0 : x0 + 49] = True
    for frame in frames:
        np.testing.assert_array_equal(frame[~inside], photo[~inside])
        assert np.abs(frame[inside].astype(int) - photo[inside]).mean() > 1  # the face region changed
    crops = pirender.reenact(photo, assets["driving"], paste_back=False, **kwargs).to_array()
    assert crops.shape == (NUM_FRAMES, SIZE, SIZE, 3)


def test_side_by_side_layout(assets: dict[str, Path]) -> None:
    video = pirender.reenact(
        assets["source"],
        assets["driving"],
        renderer=assets["renderer"],
        source_coeffs=assets["source_coeffs"],
        layout="side-by-side",
    )
    frames = video.to_array()
    assert video.size == (2 * SIZE, SIZE) and frames.shape == (NUM_FRAMES, SIZE, 2 * SIZE, 3)
    source = pirender.media.image.load_image(assets["source"])
    np.testing.assert_array_equal(frames[0, :, :SIZE], source)  # motion file: source | result


def test_video_is_rendered_lazily_in_batches(
    assets: dict[str, Path], engine: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = type(engine).render_frames

    def counting(self: object, source: object, descriptors: object, **kw: object) -> object:
        calls.append(int(descriptors.shape[0]))  # type: ignore[attr-defined]
        return original(self, source, descriptors, **kw)

    monkeypatch.setattr(type(engine), "render_frames", counting)
    video = pirender.reenact(
        assets["source"],
        assets["driving"],
        renderer=assets["renderer"],
        source_coeffs=assets["source_coeffs"],
    )
    assert calls == [] and len(video) == NUM_FRAMES  # nothing rendered until iterated
    iterator = iter(video)
    first = next(iterator)
    assert first.shape == (SIZE, SIZE, 3) and sum(calls) == NUM_FRAMES  # one chunk covers this short clip
    assert len(list(iterator)) == NUM_FRAMES - 1


class _FakeExtractor:
    """Stands in for the shipped regressor: coefficients from each frame's mean brightness."""

    name = "fake"

    def extract(self, frames: list[np.ndarray]) -> np.ndarray:
        coeffs = make_coeffs(len(frames), 0)
        coeffs[:, 0] = [frame.mean() / 255 for frame in frames]
        return coeffs


def test_driving_video_audio_and_three_panels(
    assets: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pirender.pipelines.source as source_module
    from pirender.media.video import VideoWriter

    monkeypatch.setattr(source_module, "load_extractor", lambda spec, device: _FakeExtractor())
    clip = tmp_path / "driver.mp4"
    tone = (0.2 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    with VideoWriter(clip, fps=8, audio=(tone, 16000)) as writer:
        for seed in range(6):
            writer.write(smooth_image(SIZE, SIZE, seed))
    out = pirender.reenact(
        assets["source"],
        clip,
        renderer=assets["renderer"],
        source_coeffs=assets["source_coeffs"],
        layout="side-by-side",
        output=tmp_path / "out.mp4",
    )
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (3 * SIZE, SIZE)
        assert float(video.average_rate) == pytest.approx(8)
        assert len(container.streams.audio) == 1
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 6
    driver = pirender.media.video.read_video_frames(clip)
    # the middle panel is the driving video (both went through H.264, so compare loosely)
    assert np.abs(frames[3][:, SIZE : 2 * SIZE].astype(int) - driver[3]).mean() < 8


def test_larger_photo_is_cropped_at_the_face_and_pasted_back(assets: dict[str, Path]) -> None:
    """The real face detector (MediaPipe) on a SynthHead head inside a wider photo."""
    from pirender.errors import InputError
    from pirender.synth import Identity, SynthHead, neutral_coeffs

    try:
        from pirender.motion.faces import resolve_model_path

        resolve_model_path()
    except (ImportError, InputError) as e:
        pytest.skip(f"face detection unavailable: {e}")
    head = SynthHead(Identity.from_seed(3), 128).render(neutral_coeffs())
    photo = np.pad(head, ((10, 30), (60, 20), (0, 0)), mode="edge")  # 168 x 208, face near (124, 74)
    video = pirender.reenact(
        photo, assets["driving"], renderer=assets["renderer"], source_coeffs=assets["source_coeffs"]
    )
    assert video.size == (208, 168)
    frame = next(iter(video))
    changed = np.abs(frame.astype(int) - photo).sum(axis=2) > 0
    rows, cols = np.nonzero(changed)
    assert changed.any()
    # every changed pixel lies in a square around the head, the rest of the photo is untouched
    assert 60 - 40 <= cols.min() and cols.max() <= 60 + 128 + 40
    assert 10 - 40 <= rows.min() and rows.max() <= 10 + 128 + 40
    assert not changed[:, :15].any() and not changed[:, -5:].any()
