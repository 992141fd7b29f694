"""The web app: `build_app(models) -> gradio.Blocks`, three tabs over one source portrait and one
over an uploaded video.

* Edit: pose and expression sliders with a live preview (re-rendered when a slider is released),
  presets, raw expression slots, PNG download, a sweep video.
* Reenact: a driving video or motion file, relative or absolute motion, the result with its audio.
* Speak: an uploaded or recorded speech, K sampled motions, one video each.
* Video: edit every frame of an uploaded video (preset with a keyframed strength, expression offsets,
  head-motion damping) or dub it to a new speech; each frame is its own source (`ui.video`).

Layout and wiring only: the work is done by `pirender.ui.handlers`, which calls the pipelines.
Nothing happens at import; gradio is imported by `build_app` after the offline settings are in place.
Errors reach the page as one-line messages (gr.Error), never as tracebacks.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pirender.errors import PirenderError, one_line
from pirender.extras import missing_extra
from pirender.ui import handlers, video
from pirender.ui.handlers import AppModels, EditValues, Portrait
from pirender.ui.launch import configure_offline

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger("pirender.ui")
F = TypeVar("F", bound=Callable[..., Any])

TITLE = "pirender: portrait editing, reenactment and speech"
INTRO = (
    "Upload a portrait or pick a demo identity, then change its head pose and expression, make it "
    "imitate a driving video, or make it speak. Everything runs on this machine."
)
NO_SOURCE = "No source portrait: upload an image or pick a demo identity first."
VIDEO_TYPES = [".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"]
VIDEO_INTRO = (
    "Edit or dub a whole video: every frame is its own source and only what you change changes "
    "(the portrait on the left is not used here)."
)
DRIVING_TYPES = [".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".npz", ".mat", ".txt"]


def user_errors(fn: F) -> F:
    """Show every failure of `fn` as a one-line message in the page: a PirenderError (or a missing
    file) as itself, anything else (a ValueError too) as "internal error: ..." with its traceback in
    the server log."""
    import gradio as gr

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (PirenderError, FileNotFoundError) as e:  # the user's to fix
            raise gr.Error(one_line(e), print_exception=False) from None
        except Exception as e:  # a bug (a ValueError too): still one line in the page
            if (extra := missing_extra(e)) is not None:  # not a bug: an optional extra to install
                raise gr.Error(str(extra), print_exception=False) from None
            log.exception("pirender ui: internal error in %s", fn.__name__)
            raise gr.Error(
                f"internal error: {type(e).__name__}: {one_line(e)} (details in the server log)",
                print_exception=False,
            ) from None

    return wrapper  # type: ignore[return-value]


def _require(portrait: Portrait | None) -> Portrait:
    if portrait is None:
        raise PirenderError(NO_SOURCE)
    return portrait


def build_app(models: AppModels) -> gr.Blocks:
    """The Blocks app over `models` (loaded lazily, on the first render). Launch with `ui.launch.serve`.

    One builder per part of the page: the source column, then one per tab; each lays out its widgets
    and wires its events. The source's events come last: a new portrait resets the Edit tab."""
    configure_offline()
    import gradio as gr

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        portrait_state = gr.State(None)
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                source = _source_column()
            with gr.Column(scale=3), gr.Tabs():
                with gr.Tab("Edit", id="edit"):
                    edit = _edit_tab(models, portrait_state)
                with gr.Tab("Reenact", id="reenact"):
                    _reenact_tab(models, portrait_state)
                with gr.Tab("Speak", id="speak"):
                    _speak_tab(models, portrait_state)
                with gr.Tab("Video", id="video"):
                    _video_tab(models)
        _source_events(models, portrait_state, source, edit)
    return app


@dataclasses.dataclass(frozen=True)
class SourceColumn:
    """The source portrait's widgets (left column)."""

    upload: Any
    crop_mode: Any
    demo_seed: Any
    demo_button: Any
    crop_view: Any
    notice: Any


@dataclasses.dataclass(frozen=True)
class EditTab:
    """What the source's events need of the Edit tab: its sliders, preset, raw box, preview, and how
    to set the sliders to a portrait's values and render it."""

    sliders: list[Any]  # pose sliders, then expression sliders
    preset: Any
    raw: Any
    preview: Any
    download: Any
    slider_updates: Callable[[EditValues], list[float]]
    rendered: Callable[[Portrait, EditValues], tuple[str, Any]]


def _source_column() -> SourceColumn:
    """The portrait upload, crop mode, demo identity and what the renderer sees."""
    import gradio as gr

    upload = gr.Image(
        label="Portrait (auto-cropped)",
        type="filepath",
        sources=["upload", "clipboard"],
        height=240,
        elem_id="source-upload",
    )
    crop_mode = gr.Radio(
        [(text, key) for key, text in handlers.CROP_CHOICES.items()],
        value="auto",
        label="Crop",
        elem_id="crop-mode",
    )
    with gr.Row():
        demo_seed = gr.Number(0, precision=0, minimum=0, label="Demo identity", elem_id="demo-seed")
        demo_button = gr.Button("Use demo identity", elem_id="demo-button")
    crop_view = gr.Image(
        label="What the renderer sees",
        interactive=False,
        format="png",
        height=200,
        elem_id="source-crop",
    )
    notice = gr.Markdown("", elem_id="source-notice")
    return SourceColumn(upload, crop_mode, demo_seed, demo_button, crop_view, notice)


def _source_events(models: AppModels, portrait_state: Any, source: SourceColumn, edit: EditTab) -> None:
    """A portrait uploaded, re-cropped or picked: its crop, its own values on the Edit sliders, a preview."""
    import gradio as gr

    upload, crop_mode, crop_view, notice = source.upload, source.crop_mode, source.crop_view, source.notice
    demo_seed, demo_button = source.demo_seed, source.demo_button
    preset, raw, preview, download = edit.preset, edit.raw, edit.preview, edit.download
    slider_outputs, slider_updates, rendered = edit.sliders, edit.slider_updates, edit.rendered
    source_outputs = [portrait_state, crop_view, notice, *slider_outputs, preset, raw, preview, download]

    def loaded(portrait: Portrait) -> list[Any]:
        if portrait.notice:
            gr.Warning(portrait.notice)
        values = handlers.own_values(portrait)
        note = f"**{portrait.name}**" + (f": {portrait.notice}" if portrait.notice else "")
        return [
            portrait,
            portrait.crop,
            note,
            *slider_updates(values),
            "",
            "",
            *rendered(portrait, values),
        ]

    @user_errors
    def on_upload(upload: dict[str, Any] | None, crop: str) -> list[Any]:
        # Called without gradio's preprocessing (which would fail on a file that is not an image
        # with a long message): `upload` is the uploaded file's record, read by the pipelines.
        if not upload:
            return [
                None,
                None,
                "",
                *([0.0] * len(slider_outputs)),
                "",
                "",
                None,
                gr.DownloadButton(value=None, interactive=False),
            ]
        if not upload.get("path"):
            raise PirenderError("the picture did not arrive as a file; upload it again")
        name = Path(str(upload.get("orig_name") or upload["path"])).name
        portrait = handlers.load_portrait(models, upload["path"], crop=crop, name=name)  # type: ignore[arg-type]
        return loaded(portrait)

    @user_errors
    def on_demo(seed: float | None) -> list[Any]:
        return loaded(handlers.demo_portrait(models, int(seed or 0)))

    @user_errors
    def on_crop(upload: dict[str, Any] | None, crop: str) -> list[Any]:
        if not upload:  # nothing uploaded (perhaps a demo identity): nothing to crop again
            return [gr.skip()] * len(source_outputs)
        return on_upload(upload, crop)

    # Progress (and a failure's error badge) on the crop view only: by default gradio marks every
    # output of a failed event, which would cover all sliders and the preview in red.
    on_crop_view = {"show_progress_on": [crop_view]}
    upload.upload(on_upload, [upload, crop_mode], source_outputs, preprocess=False, **on_crop_view)
    upload.clear(on_upload, [upload, crop_mode], source_outputs, preprocess=False, **on_crop_view)
    crop_mode.input(on_crop, [upload, crop_mode], source_outputs, preprocess=False, **on_crop_view)
    demo_button.click(on_demo, [demo_seed], source_outputs, **on_crop_view)


def _edit_tab(models: AppModels, portrait_state: Any) -> EditTab:
    """Pose and expression sliders, presets, raw slots, the preview, PNG download, a sweep video."""
    import gradio as gr

    controls = handlers.expression_controls()
    presets = handlers.preset_names()
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            pose = {
                name: _slider(low, high, step, _POSE_LABELS[name], name)
                for name, (low, high, step) in handlers.POSE_RANGES.items()
            }
            with gr.Accordion("Advanced", open=False):
                preset = gr.Dropdown(
                    [("none", ""), *presets],
                    value="",
                    label="Expression preset",
                    elem_id="preset",
                )
                strength = gr.Slider(0, 1, value=1.0, step=0.05, label="Preset strength", buttons=[])
                raw = gr.Textbox(
                    label="Raw expression coefficients",
                    placeholder="index=value, e.g. 5=0.8, 20=-0.5 (indices 0..63)",
                    info="applied last; press Enter to render",
                    elem_id="raw-coeffs",
                )
        with gr.Column(scale=1, min_width=240):
            expression = {
                name: _slider(lo, hi, 0.01, name.replace("_", " "), name)
                for name, (_, lo, hi) in controls.items()
            }
        with gr.Column(scale=2, min_width=320):
            preview = gr.Image(
                label="Preview",
                type="filepath",
                format="png",
                interactive=False,
                height=420,
                buttons=["download", "fullscreen"],
                elem_id="edit-preview",
            )
            with gr.Row():
                render_button = gr.Button("Render", variant="primary", elem_id="render")
                reset_button = gr.Button("Reset to the source", elem_id="reset")
            keep = gr.Checkbox(
                False,
                label="Keep unchanged pixels",
                info="the source's own pixels wherever the edit changes nothing",
                elem_id="keep-unchanged",
            )
            download = gr.DownloadButton(
                "Download PNG", value=None, interactive=False, elem_id="download-png"
            )
            with gr.Accordion("Sweep video", open=False):
                sweep_param = gr.Dropdown(handlers.sweep_params(), value="yaw", label="Parameter")
                with gr.Row():
                    sweep_start = gr.Number(-20.0, label="From")
                    sweep_end = gr.Number(20.0, label="To")
                    sweep_steps = gr.Number(25, precision=0, minimum=2, label="Steps each way")
                sweep_button = gr.Button("Render sweep MP4", elem_id="sweep")
                sweep_video = gr.Video(label="Sweep", interactive=False, elem_id="sweep-video")
    pose_sliders = list(pose.values())
    expression_sliders = list(expression.values())
    edit_inputs = [portrait_state, *pose_sliders, *expression_sliders, raw, preset, strength, keep]
    slider_outputs = [*pose_sliders, *expression_sliders]

    def values_from(args: tuple[Any, ...]) -> EditValues:
        """(pose..., expression..., raw, preset, strength, keep) widget values -> EditValues."""
        n, m = len(pose), len(expression)
        return EditValues(
            pose=dict(zip(pose, map(float, args[:n]), strict=True)),
            controls=dict(zip(expression, map(float, args[n : n + m]), strict=True)),
            raw=str(args[n + m] or ""),
            preset=str(args[n + m + 1] or "") or None,
            preset_strength=float(args[n + m + 2]),
            keep_unchanged=bool(args[n + m + 3]),
        )

    def slider_updates(values: EditValues) -> list[float]:
        return [values.pose[name] for name in pose] + [values.controls[name] for name in expression]

    def rendered(portrait: Portrait, values: EditValues) -> tuple[str, Any]:
        path = str(handlers.save_png(models, handlers.render_edit(models, portrait, values)))
        return path, gr.DownloadButton(value=path, interactive=True)

    @user_errors
    def on_render(portrait: Portrait | None, *args: Any) -> tuple[str, Any]:
        return rendered(_require(portrait), values_from(args))

    @user_errors
    def on_reset(portrait: Portrait | None, keep_unchanged: bool) -> list[Any]:
        portrait = _require(portrait)
        values = dataclasses.replace(handlers.own_values(portrait), keep_unchanged=bool(keep_unchanged))
        return [*slider_updates(values), "", "", *rendered(portrait, values)]

    @user_errors
    def on_preset(portrait: Portrait | None, *args: Any) -> list[Any]:
        portrait = _require(portrait)
        chosen = values_from(args)
        blended = handlers.preset_values(portrait, chosen.preset, chosen.preset_strength)
        values = dataclasses.replace(chosen, controls=blended.controls)
        return [*slider_updates(values)[len(pose) :], *rendered(portrait, values)]

    render_outputs = [preview, download]
    for slider in [*pose_sliders, *expression_sliders]:
        # release = the user let go of the slider (or left its number box): one render, and only
        # the latest one if several are waiting.
        slider.release(
            on_render, edit_inputs, render_outputs, trigger_mode="always_last", show_progress="minimal"
        )
    render_button.click(on_render, edit_inputs, render_outputs)
    raw.submit(on_render, edit_inputs, render_outputs)
    reset_button.click(on_reset, [portrait_state, keep], [*slider_outputs, preset, raw, *render_outputs])
    keep.input(on_render, edit_inputs, render_outputs)
    preset.input(on_preset, edit_inputs, [*expression_sliders, *render_outputs])
    strength.release(
        on_preset, edit_inputs, [*expression_sliders, *render_outputs], trigger_mode="always_last"
    )

    @user_errors
    def on_sweep(
        portrait: Portrait | None,
        param: str,
        start: float,
        end: float,
        steps: float,
        *args: Any,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (gradio's injection idiom)
    ) -> str:
        return str(
            handlers.render_sweep(
                models,
                _require(portrait),
                values_from(args),
                param=param,
                start=float(start),
                end=float(end),
                steps=int(steps),
                progress=True,
            )
        )

    sweep_button.click(
        on_sweep,
        [portrait_state, sweep_param, sweep_start, sweep_end, sweep_steps, *edit_inputs[1:]],
        sweep_video,
    )
    return EditTab(slider_outputs, preset, raw, preview, download, slider_updates, rendered)


def _slider(low: float, high: float, step: float, label: str, name: str) -> Any:
    """An Edit-tab slider at 0, its element id `slider-<name>` (the browser tests find it by that)."""
    import gradio as gr

    return gr.Slider(low, high, value=0.0, step=step, label=label, buttons=[], elem_id=f"slider-{name}")


def _reenact_tab(models: AppModels, portrait_state: Any) -> None:
    """A driving video or motion file, relative or absolute motion, the result with its audio."""
    import gradio as gr

    with gr.Row():
        with gr.Column():
            driving = gr.File(
                label="Driving video or motion file (.npz, .mat, .txt)",
                file_types=DRIVING_TYPES,
                elem_id="driving",
            )
            motion_mode = gr.Radio(
                list(handlers.MOTION_CHOICES),
                value="relative",
                label="Motion",
                info="relative: the driver's changes on the source's own pose and "
                "expression; absolute: the driver's values as they are",
            )
            side_by_side = gr.Checkbox(False, label="Show source | driving | result")
            reenact_button = gr.Button("Reenact", variant="primary", elem_id="reenact")
        reenact_video = gr.Video(label="Result", interactive=False, elem_id="reenact-video")

    @user_errors
    def on_reenact(
        portrait: Portrait | None,
        driving_path: str | None,
        motion: str,
        panels: bool,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
    ) -> str:
        portrait = _require(portrait)
        if not driving_path:
            raise PirenderError("No driving motion: upload a video or a motion file (.npz, .mat, .txt).")
        return str(
            handlers.reenact_video(
                models, portrait, Path(driving_path), motion=motion, side_by_side=panels, progress=True
            )
        )

    reenact_button.click(on_reenact, [portrait_state, driving, motion_mode, side_by_side], reenact_video)


def _speak_tab(models: AppModels, portrait_state: Any) -> None:
    """An uploaded or recorded speech, K sampled motions, one video each."""
    import gradio as gr

    with gr.Row():
        with gr.Column():
            speech = gr.Audio(
                label="Speech (upload or record)",
                sources=["upload", "microphone"],
                type="filepath",
                elem_id="speech",
            )
            samples = gr.Slider(
                1,
                models.limits.max_samples,
                value=2,
                step=1,
                label="Number of samples",
                buttons=[],
            )
            temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Temperature", buttons=[])
            speak_seed = gr.Number(0, precision=0, label="Seed")
            speak_button = gr.Button("Speak", variant="primary", elem_id="speak")
        speak_gallery = gr.Gallery(label="Results (one video per sample)", columns=2, elem_id="speak-videos")

    @user_errors
    def on_speak(
        portrait: Portrait | None,
        audio_path: str | None,
        count: float,
        temp: float,
        seed: float | None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
    ) -> list[str]:
        portrait = _require(portrait)
        if not audio_path:
            raise PirenderError("No speech: upload an audio file or record one.")
        paths = handlers.speak_videos(
            models,
            portrait,
            Path(audio_path),
            samples=int(count),
            temperature=float(temp),
            seed=int(seed or 0),
            progress=True,
        )
        return [str(p) for p in paths]

    speak_button.click(on_speak, [portrait_state, speech, samples, temperature, speak_seed], speak_gallery)


def _video_tab(models: AppModels) -> None:
    """Edit every frame of an uploaded video, or dub it to a new speech (`ui.video`)."""
    import gradio as gr

    presets = handlers.preset_names()
    gr.Markdown(VIDEO_INTRO)
    with gr.Row():
        with gr.Column():
            video_in = gr.File(label="Video to edit or dub", file_types=VIDEO_TYPES, elem_id="video-in")
            video_preset = gr.Dropdown(
                [("none", ""), *presets],
                value="",
                label="Expression preset",
                elem_id="video-preset",
            )
            video_strength = gr.Textbox(
                "1",
                label="Preset strength",
                info="a number, or keyframes: 0@0s,1@1s,1@3s,0@4s (linear between)",
                elem_id="video-strength",
            )
            video_exp = gr.Textbox(
                label="Expression offsets",
                placeholder="smile=0.5; brow_raise=0@0s,1@2s",
                elem_id="video-exp",
            )
            video_pose_scale = gr.Slider(
                *video.POSE_SCALE_RANGE,
                value=1.0,
                step=0.05,
                label="Head motion scale (0.5 halves it)",
                buttons=[],
            )
            video_pose_still = gr.Checkbox(False, label="Hold the first frame's head pose")
            video_edit_button = gr.Button("Edit video", variant="primary", elem_id="video-edit")
            video_speech = gr.Audio(
                label="New speech, to dub the video to",
                sources=["upload", "microphone"],
                type="filepath",
                elem_id="video-speech",
            )
            video_seed = gr.Number(0, precision=0, label="Seed (the mouth's motion)")
            video_dub_button = gr.Button("Dub video", elem_id="video-dub")
        video_out = gr.Video(label="Result", interactive=False, elem_id="video-out")

    def shown(result: video.VideoResult) -> str:
        if result.notice:
            gr.Warning(result.notice)
        return str(result.path)

    @user_errors
    def on_video_edit(
        video_path: str | None,
        preset_name: str,
        preset_strength: str,
        exp_text: str,
        pose_scale: float,
        pose_still: bool,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
    ) -> str:
        return shown(
            video.edit_uploaded_video(
                models,
                video_path,
                preset=preset_name or None,
                strength=str(preset_strength or "1"),
                exp_text=str(exp_text or ""),
                pose_scale=float(pose_scale),
                pose_still=bool(pose_still),
                progress=True,
            )
        )

    @user_errors
    def on_video_dub(
        video_path: str | None,
        audio_path: str | None,
        seed: float | None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
    ) -> str:
        return shown(
            video.dub_uploaded_video(models, video_path, audio_path, seed=int(seed or 0), progress=True)
        )

    video_edit_button.click(
        on_video_edit,
        [video_in, video_preset, video_strength, video_exp, video_pose_scale, video_pose_still],
        video_out,
    )
    video_dub_button.click(on_video_dub, [video_in, video_speech, video_seed], video_out)


_POSE_LABELS = {
    "yaw": "yaw (degrees, turn)",
    "pitch": "pitch (degrees, nod)",
    "roll": "roll (degrees, tilt)",
    "tx": "translation x",
    "ty": "translation y",
    "tz": "translation z",
}
