"""The front-door functions: one name per option from pipeline to function to flag, one loading path."""

from __future__ import annotations

import argparse
import inspect

import numpy as np
import pytest

from pirender.cli.main import build_parser
from pirender.errors import InputError
from pirender.pipelines.dub import DubPipeline, dub, edit_video
from pirender.pipelines.edit import EditPipeline, edit
from pirender.pipelines.front_door import MODEL_KEYS, RUNTIME_KEYS, runtime_options, write_result
from pirender.pipelines.reenact import ReenactPipeline, reenact
from pirender.pipelines.speak import SpeakPipeline, speak
from pirender.pipelines.video_edit import VideoEditPipeline

# (front door, its pipeline's __call__, the pipeline's own arguments the function builds for it)
PAIRS = [
    (reenact, ReenactPipeline.__call__, set()),
    (edit, EditPipeline.__call__, {"edit"}),  # the recipe, built from yaw.., exp, preset
    (speak, SpeakPipeline.__call__, set()),
    (dub, DubPipeline.__call__, {"edit"}),
    (edit_video, VideoEditPipeline.__call__, {"analysis", "edit", "order", "mouth", "audio"}),
]
# (command, front door, keyword -> the flag's dest where a flag spells it differently)
COMMANDS = [
    ("reenact", reenact, {}),
    ("edit", edit, {}),
    ("edit", edit_video, {"video": "source", "keep_audio": "no_audio", "mask": "keep_unchanged"}),
    ("speak", speak, {}),
    ("dub", dub, {"video": "source"}),
]
# keywords with no flag of their own name: --no-progress; the extractor is built from its flags
NOT_FLAGS = {"progress": "no_progress", "extractor": "extractor_checkpoint"}


def _keywords(function) -> dict[str, inspect.Parameter]:
    return {
        name: p
        for name, p in inspect.signature(function).parameters.items()
        if p.kind is not inspect.Parameter.VAR_KEYWORD and name != "self"
    }


@pytest.mark.parametrize(("function", "call", "built"), PAIRS, ids=lambda x: getattr(x, "__qualname__", ""))
def test_pipeline_arguments_keep_their_names_and_defaults(function, call, built) -> None:
    front, pipeline = _keywords(function), _keywords(call)
    for name, parameter in pipeline.items():
        if name in built:
            continue
        assert name in front, f"{call.__qualname__}({name}=) is not spelled so by {function.__name__}()"
        assert front[name].default == parameter.default, name


@pytest.mark.parametrize(
    ("command", "function", "renamed"), COMMANDS, ids=lambda x: getattr(x, "__name__", x)
)
def test_every_keyword_is_a_flag_of_the_same_name(command: str, function, renamed: dict[str, str]) -> None:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    dests = {action.dest for action in sub._actions}
    for name in [*_keywords(function), *MODEL_KEYS]:
        dest = renamed.get(name) or NOT_FLAGS.get(name) or name
        assert dest in dests, (
            f"{function.__name__}({name}=) has no --{dest.replace('_', '-')} in pirender {command}"
        )


def test_model_keywords_are_one_declaration() -> None:
    assert set(RUNTIME_KEYS) <= set(MODEL_KEYS)
    for function, _, _ in PAIRS:
        kinds = [p.kind for p in inspect.signature(function).parameters.values()]
        assert inspect.Parameter.VAR_KEYWORD in kinds, function.__name__
        assert not set(MODEL_KEYS) & set(_keywords(function)), function.__name__


def test_unknown_keyword_is_a_type_error_and_bad_option_a_user_error() -> None:
    with pytest.raises(TypeError, match="reenact\\(\\) got an unexpected keyword argument 'devise'"):
        runtime_options("reenact", {"devise": "cpu"})
    with pytest.raises(InputError, match="device must be one of"):
        runtime_options("reenact", {"device": "tpu"})
    options = runtime_options("edit", {"device": "cpu", "batch_size": 2, "renderer": None})
    assert (options.device, options.batch_size, options.workers) == ("cpu", 2, None)


def test_unknown_keyword_fails_before_any_model_loads(tmp_path) -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(TypeError, match="unexpected keyword argument 'renderr'"):
        edit(image, renderr="nowhere")


class _Recorder:
    """A pipeline stand-in: records what the front door passes to its __call__."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple, dict]] = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return np.zeros((4, 4, 3), np.uint8)

    def expression_of(self, reference):  # EditPipeline's
        raise AssertionError("not asked for")


# (module, front door, its pipeline's __call__, positional arguments, one job keyword and a value)
SHOWN = [
    ("reenact", reenact, ReenactPipeline.__call__, ("face.png", "drive.npz"), ("layout", "side-by-side")),
    ("edit", edit, EditPipeline.__call__, ("face.png",), ("paste_back", False)),
    ("speak", speak, SpeakPipeline.__call__, ("face.png", "speech.wav"), ("temperature", 0.5)),
]


@pytest.mark.parametrize(("module", "function", "call", "args", "given"), SHOWN, ids=[m for m, *_ in SHOWN])
def test_shown_job_keywords_reach_the_pipeline(monkeypatch, module, function, call, args, given) -> None:
    """The job keywords a front door shows are its pipeline's: each one given reaches the pipeline's
    __call__, every other one with the pipeline's own default; model keywords go to the loader."""
    recorder, loaded = _Recorder(), {}

    def fake_open(cls, name, models, **extra):
        loaded.update(models)
        return recorder

    monkeypatch.setattr(f"pirender.pipelines.{module}.open_pipeline", fake_open)
    name, value = given
    function(*args, **{name: value}, device="cpu", batch_size=3)
    ((called_args, called),) = recorder.calls
    assert called_args[: len(args)] == args
    expected = {n: p.default for n, p in _keywords(call).items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    expected[name] = value
    if function is edit:
        expected["sweep"] = []  # parsed before the pipeline sees it
    assert called == expected
    assert loaded == {"device": "cpu", "batch_size": 3}
    shown = inspect.signature(function).parameters
    assert list(expected) == [n for n in shown if n in expected]  # shown in the pipeline's order
    with pytest.raises(
        TypeError, match=f"{function.__name__}\\(\\) got an unexpected keyword argument 'tempo'"
    ):
        function(*args, tempo=1)


def test_write_result(tmp_path) -> None:
    image = np.full((8, 8, 3), 200, np.uint8)
    assert write_result(image, None) is image
    path = write_result(image, tmp_path / "out.png")
    assert path == tmp_path / "out.png" and path.stat().st_size > 0
    with pytest.raises(TypeError):
        write_result(object(), tmp_path / "x.png")


def test_edit_recipe_keywords_reach_the_recipe(monkeypatch) -> None:
    recorder = _Recorder()
    monkeypatch.setattr("pirender.pipelines.edit.open_pipeline", lambda *a, **k: recorder)
    edit("face.png", yaw=12, relative=True, grid=True)
    (((_, recipe), job),) = recorder.calls
    assert (recipe.yaw, recipe.relative, recipe.pitch, recipe.preset_strength) == (12, True, None, 1.0)
    assert job["grid"] is True
    assert "expression" not in inspect.signature(edit).parameters  # built from expression_from
    with pytest.raises(TypeError, match="unexpected keyword argument 'expression'"):
        edit("face.png", expression=np.zeros(64))
