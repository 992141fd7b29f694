"""Editing and dubbing a video frame by frame: recipes, pass-through, lengths, audio and bad inputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

import pirender
from pirender.cli.main import main
from pirender.errors import InputError
from pirender.media.video import probe_video, read_video_frames, write_video
from pirender.motion.crop import CropTransform
from pirender.pipelines.dub import dub_order, speech_gate
from pirender.pipelines.keep_unchanged import ChangeMaskConfig
from pirender.pipelines.models import ExtractorSpec
from pirender.pipelines.video_edits import build_video_edit, group_columns, parse_keyframes
from pirender.synth import EXPRESSION_CONTROLS

from .conftest import SIZE, make_coeffs, smooth_image

FRAMES = 12
FPS = 12.5


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, assets: dict[str, Path]) -> Path:
    """A square 64-px video (frames are face crops already) with an audio track."""
    root = tmp_path_factory.mktemp("video_edit")
    frames = [np.roll(smooth_image(SIZE, SIZE, 0), t, axis=1) for t in range(FRAMES)]
    write_video(root / "clip.mp4", frames, fps=FPS, audio=str(assets["speech"]))
    return root / "clip.mp4"


def test_keyframes_are_linear_between_and_held_outside() -> None:
    keys = parse_keyframes("0@0s,1@2s,1@5s,0@6s", what="--exp smile")
    assert keys.at(np.array([0.0, 1.0, 3.0, 5.5, 9.0])).tolist() == [0.0, 0.5, 1.0, 0.5, 0.0]
    assert parse_keyframes("0.8", what="x").at(np.array([0.0, 100.0])).tolist() == pytest.approx([0.8, 0.8])
    for bad in ("1@2s,0@1s", "a@1s", "1@-1s", "1@2s@3"):
        with pytest.raises(InputError):
            parse_keyframes(bad, what="--exp smile")


def test_recipe_changes_only_what_was_asked() -> None:
    own = make_coeffs(50, 3)
    smile = EXPRESSION_CONTROLS["smile"]
    edited = build_video_edit(exp=["smile=0@0s,1@1s,0@2s"]).apply(own, 25.0)
    changed = np.flatnonzero(np.any(edited != own, axis=0))
    assert changed.tolist() == [smile]
    assert edited[25, smile] == pytest.approx(own[25, smile] + 1.0)  # 1 s: the peak
    assert np.array_equal(edited[0], own[0])  # 0 s: offset 0
    calm = build_video_edit(pose_scale=0.5).apply(own, 25.0)
    pose = group_columns("pose")
    assert np.allclose(calm[:, pose].std(0), 0.5 * own[:, pose].std(0), rtol=1e-4)
    assert np.array_equal(np.delete(calm, pose, axis=1), np.delete(own, pose, axis=1))
    still = build_video_edit(pose_still=True).apply(own, 25.0)
    assert np.all(still[:, pose] == own[0, pose])
    mouth = make_coeffs(50, 4)
    dubbed = build_video_edit().apply(own, 25.0, mouth=mouth)
    cols = group_columns("mouth")
    assert np.array_equal(dubbed[:, cols], mouth[:, cols])
    assert np.array_equal(np.delete(dubbed, cols, axis=1), np.delete(own, cols, axis=1))
    assert group_columns("mouth", "deep3d").tolist() == list(range(64))  # no separable mouth in a PCA


def test_conflicting_and_bad_recipe_values_are_one_line_errors() -> None:
    with pytest.raises(InputError, match="conflict"):
        build_video_edit(pose_still=True, pose_scale=0.5)
    with pytest.raises(InputError, match="groups"):
        build_video_edit(hold=["ears"])
    with pytest.raises(InputError, match="pose-scale"):
        build_video_edit(pose_scale=float("nan"))


def test_no_edit_passes_every_frame_through_bit_for_bit(assets: dict[str, Path], clip: Path) -> None:
    video = pirender.edit_video(clip, renderer=assets["renderer"], size=SIZE)
    assert (len(video), video.fps, video.size, video.audio) == (FRAMES, FPS, (SIZE, SIZE), str(clip))
    assert np.array_equal(video.to_array(), read_video_frames(clip))


def test_a_keyframed_edit_changes_the_frames_and_keeps_the_video(assets: dict[str, Path], clip: Path) -> None:
    video = pirender.edit_video(
        clip,
        exp={"smile": "0@0.32s,3@0.4s,3@0.48s,0@0.56s"},
        renderer=assets["renderer"],
        size=SIZE,
        mask=ChangeMaskConfig(low=0.0, high=1e-3),  # the random tiny renderer's changes are small
    )
    out, inp = video.to_array(), read_video_frames(clip)
    assert out.shape == inp.shape
    # Every frame's 27-frame window reaches the ramp in a 12-frame clip, so frames may change anywhere;
    # the no-edit test above proves that nothing changes where nothing is asked.
    assert any(not np.array_equal(out[t], inp[t]) for t in range(FRAMES))


def test_edit_writes_the_video_with_its_audio_and_refuses_to_overwrite_it(
    assets: dict[str, Path], clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "edited.mp4"
    args = ["edit", "--source", str(clip), "--exp", "smile=1", "--renderer", str(assets["renderer"]), "-q"]
    assert main([*args, "--size", str(SIZE), "-o", str(out)]) == 0
    info = probe_video(out)
    assert (info.num_frames, info.width, info.has_audio) == (FRAMES, SIZE, True)
    before = clip.read_bytes()
    link = tmp_path / "link.mp4"
    link.symlink_to(clip)
    hard = tmp_path / "hard.mp4"
    os.link(clip, hard)
    for target in (clip, link, hard):
        assert main([*args, "-o", str(target)]) == 1
    assert clip.read_bytes() == before


def test_keyframe_beyond_the_end_and_photo_only_flags_are_refused(
    assets: dict[str, Path], clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.mp4"
    base = [
        "edit",
        "--source",
        str(clip),
        "--renderer",
        str(assets["renderer"]),
        "--size",
        str(SIZE),
        "-o",
        str(out),
    ]
    assert main([*base, "--exp", "smile=1@9s"]) == 1
    assert "beyond the end" in capsys.readouterr().err
    assert main([*base, "--relative"]) == 1
    assert main([*base, "--pose-still", "--pose-scale", "0.5"]) == 1
    assert (
        main(["edit", "--source", str(assets["source"]), "--pose-still", "-o", str(tmp_path / "y.png")]) == 1
    )
    assert not out.exists()


def test_dub_length_follows_the_audio_ping_pong(assets: dict[str, Path], clip: Path, tmp_path: Path) -> None:
    assert dub_order(4, 3).tolist() == [0, 1, 2]
    assert dub_order(4, 9).tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2]
    rate = 16000
    seconds = 2.5 * FRAMES / FPS  # 2.5 times the video
    t = np.arange(int(rate * seconds)) / rate
    speech = (0.3 * np.sin(2 * np.pi * 180 * t) * (t < seconds / 2)).astype(np.float32)  # then silence
    soundfile.write(tmp_path / "long.wav", speech, rate)
    gate = speech_gate(speech, rate, FPS, round(seconds * FPS))
    assert gate[2] > 0.99 and gate[-2] < 0.01  # the mouth closes on the silence
    out = tmp_path / "dubbed.mp4"
    args = ["dub", "--source", str(clip), "--audio", str(tmp_path / "long.wav"), "-o", str(out), "-q"]
    assert main([*args, "--renderer", str(assets["renderer"]), "--size", str(SIZE)]) == 0
    info = probe_video(out)
    assert info.num_frames == round(seconds * FPS) and info.has_audio


def test_dub_bad_inputs_are_one_line_errors(
    assets: dict[str, Path], clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d.mp4"
    base = [
        "dub",
        "--source",
        str(clip),
        "-o",
        str(out),
        "--renderer",
        str(assets["renderer"]),
        "--size",
        str(SIZE),
    ]
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio")
    cases = [
        [*base, "--audio", str(not_audio)],
        [*base],  # neither --audio nor --mouth-from
        [*base, "--audio", str(assets["speech"]), "--mouth-from", str(clip)],
        ["dub", "--source", str(assets["source"]), "--audio", str(assets["speech"]), "-o", str(out)],
    ]
    for argv in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "error" in err[0] and "Traceback" not in err[0]
    assert not out.exists()


def test_paste_back_alpha_zero_keeps_the_frame_exactly() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    transform = CropTransform(60, 45, 70, 32, 120, 90)
    crop = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    assert np.array_equal(transform.paste_back(frame, crop, alpha=np.zeros((32, 32), np.float32)), frame)
    alpha = np.zeros((32, 32), np.float32)
    alpha[12:20, 12:20] = 1
    changed = np.any(transform.paste_back(frame, crop, alpha=alpha) != frame, axis=2)
    rows, cols = np.nonzero(changed)
    assert changed.any() and rows.min() > 30 and rows.max() < 60 and cols.min() > 45 and cols.max() < 76


def test_official_format_checkpoint_dubs_a_non_square_video_at_256(tmp_path: Path) -> None:
    """The whole dub (face tracking, extraction, audio flow, two renders a frame, paste-back) with an
    official-format checkpoint of the official architecture (random weights) at 256 px."""
    pytest.importorskip("mediapipe")
    import torch
    from skimage import data

    from pirender.weights.official import to_official_name

    torch.manual_seed(0)
    config = pirender.RendererConfig()
    model = pirender.PIRenderer(config)
    state = {to_official_name(k, config): v for k, v in model.state_dict().items()}
    torch.save({"net_G_ema": state}, tmp_path / "epoch_00190_checkpoint.pt")
    face = data.astronaut()[20:340, 100:420]  # 320 px around the face
    frames = []
    for t in range(4):
        canvas = np.full((400, 560, 3), 90, np.uint8)
        canvas[40:360, 120 + 2 * t : 440 + 2 * t] = face
        frames.append(canvas)
    write_video(tmp_path / "talk.mp4", frames, fps=12.5)
    speech = (0.3 * np.sin(2 * np.pi * 200 * np.arange(8000) / 16000)).astype(np.float32)
    soundfile.write(tmp_path / "line.wav", speech, 16000)  # 0.5 s: 6 frames, so the video ping-pongs
    out = pirender.dub(
        tmp_path / "talk.mp4",
        str(tmp_path / "line.wav"),
        renderer=tmp_path / "epoch_00190_checkpoint.pt",
        extractor=ExtractorSpec(kind="synthhead"),  # named: an official renderer's default is deep3d
        size=256,
        output=tmp_path / "dubbed.mp4",
    )
    info = probe_video(out)
    assert (info.num_frames, info.width, info.height, info.has_audio) == (6, 560, 400, True)
    # Outside the face's crop the frame is the input's (up to the H.264 round trip).
    got, want = read_video_frames(out)[0].astype(int), np.asarray(frames[0], dtype=int)
    assert np.abs(got[:, :60] - want[:, :60]).mean() < 3


def test_frames_without_a_face_pass_through_and_are_counted(assets: dict[str, Path], tmp_path: Path) -> None:
    """A real photograph's face in frames 0-3 and 6-7, an empty wall in frames 4-5; a video with no
    face at all is a one-line error."""
    pytest.importorskip("mediapipe")
    from skimage import data

    from pirender.pipelines.video_edit import FacelessFramesWarning

    face = data.astronaut()[20:340, 100:420]
    frames = []
    for t in range(8):
        canvas = np.full((360, 480, 3), 90, np.uint8)
        if t not in (4, 5):
            canvas[20:340, 80 + 2 * t : 400 + 2 * t] = face
        frames.append(canvas)
    write_video(tmp_path / "talk.mp4", frames, fps=FPS)
    with pytest.warns(FacelessFramesWarning, match="no face in 2 of 8 frames"):
        video = pirender.edit_video(tmp_path / "talk.mp4", exp={"smile": 2.0}, renderer=assets["renderer"],
                                    size=SIZE, mask=ChangeMaskConfig(low=0.0, high=1e-3))  # fmt: skip
    out, inp = video.to_array(), read_video_frames(tmp_path / "talk.mp4")
    assert np.array_equal(out[4:6], inp[4:6])  # passed through bit for bit
    assert not np.array_equal(out[0], inp[0])  # the face frames are edited
    write_video(tmp_path / "wall.mp4", [np.full((360, 480, 3), 90, np.uint8)] * 4, fps=FPS)
    with pytest.raises(InputError, match="face") as info:
        pirender.edit_video(tmp_path / "wall.mp4", exp={"smile": 1.0}, renderer=assets["renderer"], size=SIZE)
    assert "\n" not in str(info.value)


def test_a_variable_frame_rate_video_is_timed_at_its_average_rate(
    assets: dict[str, Path], tmp_path: Path
) -> None:
    """Frames 40 ms and 120 ms apart in turn: every frame is kept, in order, at the average rate
    (documented), and keyframe times are positions at that rate."""
    import fractions

    import av

    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = fractions.Fraction(1, 1000)
        pts = 0
        for t in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(
                np.roll(smooth_image(SIZE, SIZE, 0), t, axis=1), format="rgb24"
            )
            frame.pts, frame.time_base = pts, fractions.Fraction(1, 1000)
            pts += 40 if t % 2 == 0 else 120
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    average = probe_video(path).fps
    assert 12 < average < 15  # 12 frames over 0.88 s
    video = pirender.edit_video(path, renderer=assets["renderer"], size=SIZE)
    assert len(video) == FRAMES and video.fps == pytest.approx(average)
    assert np.array_equal(video.to_array(), read_video_frames(path))
    last = (FRAMES - 1) / average
    pirender.edit_video(
        path, exp={"smile": f"0@0s,1@{last - 0.01:.3f}s"}, renderer=assets["renderer"], size=SIZE
    )
    with pytest.raises(InputError, match="beyond|past|end"):
        pirender.edit_video(
            path, exp={"smile": f"0@0s,1@{last + 0.5:.3f}s"}, renderer=assets["renderer"], size=SIZE
        )


def test_a_source_conditioned_renderer_gets_each_sources_own_coefficients(
    assets: dict[str, Path], clip: Path, tmp_path: Path
) -> None:
    """Photo edits, reenactment and video edits hand the renderer the source's own coefficients (a
    source-conditioned model refuses to encode motion without them)."""
    import torch

    from pirender.engine import RenderEngine
    from pirender.engine.core import to_uint8
    from pirender.media.image import load_image
    from pirender.models.loading import load_renderer
    from pirender.motion.coeffs import constant_windows
    from pirender.motion.sequence import Motion
    from pirender.pipelines.source import prepare_source

    model = load_renderer(assets["renderer"]).with_source_conditioning()
    torch.nn.init.normal_(model.mapping_net.source.weight, std=0.5)
    path = model.save_pretrained(tmp_path / "conditioned")
    own = Motion.load(assets["source_coeffs"]).coeffs[0]
    edited = pirender.edit(assets["source"], renderer=path, source_coeffs=own, exp={"smile": 1.0})
    target = own.copy()
    target[EXPRESSION_CONTROLS["smile"]] = 1.0
    tensor = prepare_source(load_image(assets["source"]), size=SIZE).tensor
    engine = RenderEngine(load_renderer(path))
    expected = engine.render(tensor, constant_windows(target[None], 27), source_coeffs=own[None]).image
    np.testing.assert_array_equal(edited, to_uint8(expected)[0])
    assert (
        pirender.reenact(assets["source"], assets["driving"], renderer=path, source_coeffs=own)
        .to_array()
        .any()
    )
    video = pirender.edit_video(clip, exp={"smile": 1.0}, renderer=path, size=SIZE,
                                mask=ChangeMaskConfig(low=0.0, high=1e-3))  # fmt: skip
    assert not np.array_equal(video.to_array(), read_video_frames(clip))
