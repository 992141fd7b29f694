"""The web app without a browser: build_app constructs, the handlers work when called directly."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pirender.errors import CheckpointError, InputError, PirenderError

pytest.importorskip("gradio", reason="the web app needs gradio (pip install 'pirender[ui]')")


def test_build_app_constructs_without_launching(app_models) -> None:
    import gradio as gr

    from pirender.ui.app import build_app

    app = build_app(app_models)
    assert isinstance(app, gr.Blocks)
    assert app.analytics_enabled is False
    assert not getattr(app, "is_running", False)
    assert app_models._edit is None  # models load on the first render, not when the page is built
    ids = {block.elem_id for block in app.blocks.values() if getattr(block, "elem_id", None)}
    for expected in ("source-upload", "slider-yaw", "slider-smile", "edit-preview", "render", "download-png"):
        assert expected in ids
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False" and os.environ["HF_HUB_OFFLINE"] == "1"


def test_importing_the_app_module_does_not_import_gradio() -> None:
    import subprocess
    import sys

    code = "import sys, pirender.ui.app, pirender.cli.ui; print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_upload_without_a_face_falls_back_to_a_centre_crop(app_models, faceless_png: Path) -> None:
    from pirender.ui import handlers

    portrait = handlers.load_portrait(app_models, faceless_png)
    assert portrait.crop.shape == (64, 64, 3)
    assert portrait.transform is not None and portrait.transform.side == 72  # centre square of 96x72
    assert "centre square" in portrait.notice
    assert portrait.coeffs.shape == (73,) and np.all(np.isfinite(portrait.coeffs))
    # "whole" takes the centre square without looking for a face, and says nothing.
    whole = handlers.load_portrait(app_models, faceless_png, crop="whole")
    assert whole.notice == "" and np.array_equal(whole.crop, portrait.crop)


def test_edit_render_changes_with_the_sliders(app_models, faceless_png: Path) -> None:
    from pirender.ui import handlers
    from pirender.ui.handlers import EditValues

    portrait = handlers.load_portrait(app_models, faceless_png)
    own = handlers.own_values(portrait)
    base = handlers.render_edit(app_models, portrait, own)
    assert base.shape == (72, 96, 3) and base.dtype == np.uint8  # pasted back into the photo
    assert np.array_equal(base, handlers.render_edit(app_models, portrait, own))  # deterministic
    turned = handlers.render_edit(app_models, portrait, EditValues({**own.pose, "yaw": 30.0}, own.controls))
    assert np.abs(turned.astype(int) - base.astype(int)).mean() > 0.1
    smiling = handlers.render_edit(app_models, portrait, EditValues(own.pose, {**own.controls, "smile": 1.0}))
    assert not np.array_equal(smiling, base)
    raw = handlers.render_edit(app_models, portrait, EditValues(own.pose, own.controls, raw="40=3"))
    assert not np.array_equal(raw, base)
    path = handlers.save_png(app_models, turned)
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), turned)


def test_edit_keep_unchanged_checkbox(app_models) -> None:
    import dataclasses

    from pirender.ui import handlers

    portrait = handlers.demo_portrait(app_models, 3)  # a crop already: no paste-back
    own = dataclasses.replace(handlers.own_values(portrait), keep_unchanged=True)
    # nothing edited: the source's own pixels, not the renderer's reconstruction
    assert np.array_equal(handlers.render_edit(app_models, portrait, own), portrait.crop)
    assert not np.array_equal(
        handlers.render_edit(app_models, portrait, handlers.own_values(portrait)), portrait.crop
    )


def test_sliders_start_at_the_portraits_own_values(app_models) -> None:
    from pirender.synth import with_controls
    from pirender.ui import handlers

    portrait = handlers.demo_portrait(app_models, 3)
    assert portrait.crop.shape == (64, 64, 3) and portrait.transform is None
    portrait.coeffs = with_controls(portrait.coeffs, smile=0.5)
    portrait.coeffs[65] = np.radians(10.0)  # yaw
    values = handlers.own_values(portrait)
    assert values.pose["yaw"] == 10.0 and values.controls["smile"] == 0.5
    edit = values.to_edit()
    assert np.allclose(edit.apply(portrait.coeffs), portrait.coeffs, atol=1e-6)  # no change at rest
    preset = handlers.preset_values(portrait, "smile", 0.5)
    assert preset.controls["smile"] > values.controls["smile"] - 1e-6 and preset.preset == "smile"


def test_user_mistakes_are_one_line_errors(app_models, faceless_png: Path, tmp_path: Path) -> None:
    from pirender.ui import handlers
    from pirender.ui.handlers import EditValues

    portrait = handlers.load_portrait(app_models, faceless_png)
    with pytest.raises(PirenderError, match="raw coefficients: .*not a number"):
        handlers.render_edit(app_models, portrait, EditValues(raw="5=abc"))
    with pytest.raises(PirenderError, match="outside 0..63"):
        handlers.render_edit(app_models, portrait, EditValues(raw="99=1"))
    text = tmp_path / "notes.txt.png"
    text.write_text("not an image")
    with pytest.raises(PirenderError, match=r"^notes.txt.png: not a readable image"):
        handlers.load_portrait(app_models, text)
    with pytest.raises(PirenderError, match="steps"):
        handlers.render_sweep(app_models, portrait, EditValues(), param="yaw", start=0, end=1, steps=1000)


def test_gradio_handlers_turn_errors_into_messages() -> None:
    import gradio as gr

    from pirender.ui.app import NO_SOURCE, _require, user_errors

    @user_errors
    def no_source() -> None:
        _require(None)

    @user_errors
    def bug() -> None:
        raise KeyError("x")

    with pytest.raises(gr.Error) as info:
        no_source()
    assert info.value.message == NO_SOURCE
    with pytest.raises(gr.Error) as info:
        bug()
    assert info.value.message.startswith("internal error: KeyError") and "\n" not in info.value.message


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (InputError("clip.mp4: corrupt\n video"), "clip.mp4: corrupt video"),
        (CheckpointError("model.pt: truncated"), "model.pt: truncated"),
        (
            FileNotFoundError(2, "No such file or directory", "gone.png"),
            "No such file or directory: gone.png",
        ),
        (
            ValueError("expected (T, 73) motion, got (4, 70)"),
            "internal error: ValueError: expected (T, 73) motion, got (4, 70) (details in the server log)",
        ),
        (TypeError("bad arg"), "internal error: TypeError: bad arg (details in the server log)"),
    ],
)
def test_only_pirender_errors_are_user_errors_in_the_page(error: Exception, message: str) -> None:
    """A PirenderError (or a missing file) is shown as itself; a ValueError is a bug like any other."""
    import gradio as gr

    from pirender.ui.app import user_errors

    @user_errors
    def handler() -> None:
        raise error

    with pytest.raises(gr.Error) as info:
        handler()
    assert info.value.message == message


def _event(app, name: str):  # noqa: ANN001, ANN202 (gradio Blocks -> BlockFunction)
    functions = [fn for fn in app.fns.values() if fn.name == name]
    assert functions, f"no event handler {name}"
    return functions[0]


def _call(app, name: str, *inputs: object) -> object:  # noqa: ANN001
    """Call an event's function as gradio would: one value per input component, in order."""
    event = _event(app, name)
    assert len(inputs) == len(event.inputs), f"{name} takes {len(event.inputs)} inputs"
    return event.fn(*inputs)


def test_events_sweep_reenact_and_speak_write_videos(app_models, tmp_path: Path) -> None:
    """Through the app's own event functions (wiring: inputs in the order the page sends them)."""
    import gradio as gr

    from pirender.media.video import probe_video
    from pirender.motion.sequence import Motion
    from pirender.synth import random_motion
    from pirender.ui.app import NO_SOURCE, build_app

    app = build_app(app_models)
    state, crop, note, *rest = _call(app, "on_demo", 1)
    assert crop.shape == (64, 64, 3) and note == "**SynthHead #1**"
    sliders, preview = rest[:18], rest[20]
    assert Image.open(preview).size == (64, 64)
    edit_values = [*sliders, "", "", 1.0, False]  # pose, expression sliders, raw, preset, strength, keep
    with pytest.raises(gr.Error, match=NO_SOURCE):
        _call(app, "on_render", None, *edit_values)
    rendered, _ = _call(app, "on_render", state, *edit_values)
    assert np.array_equal(np.asarray(Image.open(rendered)), np.asarray(Image.open(preview)))

    sweep = _call(app, "on_sweep", state, "smile", 0.0, 1.0, 2, *edit_values)
    assert probe_video(sweep).num_frames == 4  # there and back

    motion_path = tmp_path / "drive.npz"
    Motion(coeffs=random_motion(0, 4), fps=25.0).save(motion_path)
    video = _call(app, "on_reenact", state, str(motion_path), "relative", False)
    assert probe_video(video).num_frames == 4
    with pytest.raises(gr.Error, match="No driving motion"):
        _call(app, "on_reenact", state, None, "relative", False)
    with pytest.raises(gr.Error, match="missing.npz"):
        _call(app, "on_reenact", state, str(tmp_path / "missing.npz"), "relative", False)

    speech = tmp_path / "speech.wav"
    rate = 16000
    samples = (0.3 * np.sin(2 * np.pi * 220 * np.arange(rate // 4) / rate) * 32767).astype("<i2")
    with wave.open(str(speech), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    paths = _call(app, "on_speak", state, str(speech), 2, 0.5, 1)
    assert isinstance(paths, list) and len(paths) == 2
    infos = [probe_video(p) for p in paths]
    assert all(info.has_audio and info.num_frames >= 4 for info in infos)
    with pytest.raises(gr.Error, match="number of samples must be in 1..4"):
        _call(app, "on_speak", state, str(speech), 9, 0.5, 1)


def _speech_wav(path: Path, seconds: float = 0.25) -> Path:
    rate = 16000
    t = np.arange(int(rate * seconds)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def test_video_tab_edits_and_dubs_an_uploaded_video(app_models, tmp_path: Path) -> None:
    """The Video tab: every frame edited with its audio kept; dubbed to a speech as long as it."""
    import dataclasses

    import gradio as gr

    from pirender.media.video import probe_video, read_video_frames, write_video
    from pirender.pipelines.keep_unchanged import ChangeMaskConfig
    from pirender.ui.app import build_app
    from pirender.ui.handlers import AppModels, Limits
    from pirender.ui.video import NO_VIDEO

    from .conftest import gradient_image

    frames = [np.roll(gradient_image(64, 64, 3), 2 * t, axis=1) for t in range(8)]
    clip = tmp_path / "clip.mp4"
    write_video(clip, frames, fps=12.5, audio=str(_speech_wav(tmp_path / "own.wav", 0.64)))
    speech = _speech_wav(tmp_path / "speech.wav", 1.2)  # 15 frames at 12.5 fps: ping-pong past the end

    def copy(limits: Limits) -> AppModels:
        fields = dataclasses.fields(AppModels)
        return AppModels(
            **{f.name: getattr(app_models, f.name) for f in fields if f.init and f.name != "limits"},
            limits=limits,
        )

    models = copy(app_models.limits)
    # The tiny test renderer's edits stay under the default change mask (the frame is kept where the
    # render barely moves); paste every change so the test sees the edit arrive.
    models.dub_pipeline().editor.mask = ChangeMaskConfig(low=0.0, high=1e-3)
    app = build_app(models)

    unchanged = _call(app, "on_video_edit", str(clip), "", "1", "", 1.0, False)
    assert probe_video(unchanged).num_frames == 8  # no edit: the frames themselves
    edited = _call(app, "on_video_edit", str(clip), "smile", "0@0s,1@0.3s", "jaw_open=0.5", 1.0, False)
    info = probe_video(edited)
    assert (info.num_frames, info.width, info.has_audio) == (8, 64, True)
    before, after = read_video_frames(unchanged), read_video_frames(edited)
    assert np.abs(before.astype(int) - after).mean() > 1.0
    dubbed = _call(app, "on_video_dub", str(clip), str(speech), 3)
    info = probe_video(dubbed)
    assert info.has_audio and info.num_frames == 15

    for inputs, message in [
        ((None, "", "1", "", 1.0, False), NO_VIDEO),
        ((str(speech), "", "1", "", 1.0, False), "not a video file"),
        ((str(clip), "smile", "lots", "", 1.0, False), "strength"),
        ((str(clip), "", "1", "smile", 1.0, False), "NAME=VALUE"),
        ((str(clip), "", "1", "", 3.0, False), "pose scale"),
        ((str(clip), "", "1", "smile=1@9s", 1.0, False), "beyond|past|end"),
    ]:
        with pytest.raises(gr.Error, match=message) as error:
            _call(app, "on_video_edit", *inputs)
        assert "\n" not in error.value.message
    with pytest.raises(gr.Error, match="No speech"):
        _call(app, "on_video_dub", str(clip), None, 0)
    short = build_app(copy(Limits(max_frames=6)))
    with pytest.raises(gr.Error, match="at most 6"):
        _call(short, "on_video_edit", str(clip), "", "1", "", 1.0, False)
    with pytest.raises(gr.Error, match="at most"):
        _call(short, "on_video_dub", str(clip), str(speech), 0)


def test_video_tab_tells_how_many_frames_had_no_face(app_models, tmp_path: Path) -> None:
    pytest.importorskip("mediapipe")
    from skimage import data

    from pirender.media.video import read_video_frames, write_video
    from pirender.ui.video import edit_uploaded_video

    face = data.astronaut()[20:340, 100:420]  # a real photograph's face; frames 2 and 3 an empty wall
    frames = [np.full((360, 480, 3), 90, np.uint8) for _ in range(6)]
    for t in (0, 1, 4, 5):
        frames[t][20:340, 80 + 2 * t : 400 + 2 * t] = face
    write_video(tmp_path / "talk.mp4", frames, fps=12.5)
    result = edit_uploaded_video(app_models, tmp_path / "talk.mp4", exp_text="smile=1")
    assert result.notice.startswith("no face in 2 of 6 frames") and str(tmp_path) not in result.notice
    out, inp = read_video_frames(result.path), read_video_frames(tmp_path / "talk.mp4")
    passed = np.abs(out[2:4].astype(int) - inp[2:4])  # passed through, then re-encoded with the rest
    assert passed.mean() < 1.5 and passed.max() <= 4


def test_cli_reports_a_missing_renderer_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from pirender.cli.main import main

    assert main(["ui", "--renderer", str(tmp_path / "nope"), "--port", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("pirender ui: error: renderer not found") and "\n" not in err


def test_upload_with_a_face_is_cropped_around_it(app_models, tmp_path: Path) -> None:
    data = pytest.importorskip("skimage.data", reason="scikit-image bundles the astronaut test photo")
    pytest.importorskip("mediapipe", reason="face detection needs the faces extra")
    from pirender.errors import InputError
    from pirender.motion.faces import resolve_model_path
    from pirender.ui import handlers

    try:
        resolve_model_path()
    except InputError as e:
        pytest.skip(str(e))
    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    portrait = handlers.load_portrait(app_models, photo, crop="face")
    assert portrait.notice == "" and portrait.transform is not None
    # The face (landmarks x 181-270, y 72-177 in the 512x512 photo) is inside the crop box.
    x0, y0 = portrait.transform.origin
    side = portrait.transform.side
    assert x0 < 181 and y0 < 72 and x0 + side > 270 and y0 + side > 177 and side < 400
    # "auto", as the pipelines: the square photo is cropped too (its face fills a third of it), and
    # a face crop of it is used as it is.
    assert handlers.load_portrait(app_models, photo).transform == portrait.transform
    crop = tmp_path / "crop.png"
    Image.fromarray(portrait.transform.apply(data.astronaut())).save(crop)
    assert handlers.load_portrait(app_models, crop).transform is None
