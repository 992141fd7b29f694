"""One spelling per concept across every subcommand's --help (older spellings still parse, hidden)."""

from __future__ import annotations

import argparse

import pytest

from pirender.cli.main import _command_modules, build_parser

# concept -> the one spelling shown in --help; the other spellings must not be shown anywhere
SPELLINGS = {
    "output": ("--output", ("--out", "--output-dir", "--out-dir")),
    "no progress bars": ("--no-progress", ("--no-progress-bar", "--noprogress")),
    "Deep3DFaceRecon weights": ("--extractor-checkpoint", ("--checkpoint", "--deep3d-checkpoint")),
    "BFM folder": ("--bfm-dir", ("--bfm",)),
    "crop through a video": ("--crop-mode", ("--mode",)),
    "crop track smoothing": ("--crop-smoothing", ("--smoothing",)),
    "face landmarker model": ("--landmark-model", ("--landmarker",)),
}
# commands whose positional or config-style arguments are their own (train's dotted config keys)
CONFIG_STYLE = {"train"}


def _visible_options() -> dict[str, dict[str, argparse.Action]]:
    options: dict[str, dict[str, argparse.Action]] = {}
    for name in _command_modules():
        parser = build_parser(name)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        options[name] = {
            o: a for a in sub.choices[name]._actions if a.help != argparse.SUPPRESS for o in a.option_strings
        }
    return options


def test_every_shared_concept_has_one_spelling() -> None:
    for command, options in _visible_options().items():
        if command in CONFIG_STYLE:
            continue
        for concept, (spelling, others) in SPELLINGS.items():
            shown = sorted(set(others) & set(options))
            assert not shown, f"pirender {command} shows {shown} for {concept}; the spelling is {spelling}"


def test_short_flags_mean_one_thing() -> None:
    meaning: dict[str, set[str]] = {}
    for options in _visible_options().values():
        for option, action in options.items():
            if len(option) == 2 and option != "-h":
                meaning.setdefault(option, set()).add(
                    next(o for o in action.option_strings if o.startswith("--"))
                )
    assert meaning == {"-o": {"--output"}, "-q": {"--quiet"}}


@pytest.mark.parametrize(
    ("argv", "dest", "value"),
    [
        (["extract", "in.mp4", "-o", "m.npz", "--checkpoint", "e.pth"], "checkpoint", "e.pth"),
        (["crop", "in.png", "-o", "c.png", "--mode", "fixed", "--smoothing", "0"], "mode", "fixed"),
        (["reenact", "--source", "s.png", "--driving", "d.npz", "-o", "o.mp4", "--bfm", "BFM"], "bfm", "BFM"),
        (["demo", "--out", "d"], "out", "d"),
        (["synth", "--out", "d"], "out", "d"),
    ],
)
def test_older_spellings_still_parse(argv: list[str], dest: str, value: str) -> None:
    args = build_parser(argv[0]).parse_args(argv)
    assert str(getattr(args, dest)) == value


def test_progress_is_switched_off_the_same_way_in_every_command_that_shows_it() -> None:
    with_bars = {
        "crop",
        "extract",
        "reenact",
        "edit",
        "speak",
        "dub",
        "demo",
        "synth",
        "train",
        "train-audio",
    }
    options = _visible_options()
    missing = sorted(c for c in with_bars if "--no-progress" not in options[c])
    assert not missing, f"no --no-progress in {missing}"
