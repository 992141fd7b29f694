"""One job of a batch or of the server: a command the CLI offers (reenact, edit, speak, dub) with its
options, spelt as the CLI spells them, turned into the command line it stands for and checked
before anything runs.

    {"command": "edit", "source": "alice.png", "preset": "smile", "output": "alice_smile.png"}

is `pirender edit --source DIR/alice.png --preset smile -o OUT/alice_smile.png`: keys are the long
flags with `-` or `_` (`mouth-from`, `mouth_from`), a flag without a value is `true`, a repeatable
flag takes a list (`"exp": ["smile=1", "jaw_open=0.5"]`), `null` leaves an option out. Input paths
are relative to the manifest's folder (or the server's root), the output is relative to the
output folder and must stay inside it.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pirender.errors import InputError

JOB_COMMANDS = ("reenact", "edit", "speak", "dub")
# Set by the runner, or side effects outside the job's output (a preset store, a listing).
_NOT_JOB_OPTIONS = ("quiet", "no_progress", "verbose", "help", "save_preset", "list_presets")


# Options that take a name or a file (`--preset smile` or `--preset mine.json`): a file is an input.
_FILE_OR_NAME, _FILE_SUFFIXES = ("preset",), (".json", ".npz")


@dataclass(frozen=True)
class Job:
    """A checked job.

    Attributes:
        name: the output's path relative to the output folder (POSIX): the job's id in results.
        command: one of JOB_COMMANDS.
        argv: the command line after `pirender` (command first), paths absolute.
        output: the absolute output path.
        inputs: absolute paths of the files and folders the job reads (models included).
        digest: a hash of the command and its options as given; a changed job is a new job.
    """

    name: str
    command: str
    argv: tuple[str, ...]
    output: Path
    inputs: tuple[Path, ...]
    digest: str

    def with_paths(self, paths: Mapping[Path, Path], output: Path) -> Job:
        """The same job reading its inputs from `paths` (old -> new) and writing `output` (a job
        moved to a machine where its files live elsewhere)."""
        swap = {str(old): str(new) for old, new in paths.items()} | {str(self.output): str(output)}
        argv = tuple(swap.get(arg, arg) for arg in self.argv)
        inputs = tuple(paths.get(p, p) for p in self.inputs)
        return Job(self.name, self.command, argv, output, inputs, self.digest)


def parse_job(raw: Mapping[str, Any], *, base: Path, outdir: Path) -> Job:
    """A manifest line (or a posted job) -> Job, or a one-line InputError saying what is wrong.

    Args:
        raw: "command", "output" and the command's options.
        base: the folder relative input paths start from.
        outdir: the folder the output must be inside.
    """
    if not isinstance(raw, Mapping):
        raise InputError(f"a job is a JSON object, got {type(raw).__name__}")
    options = {str(key).replace("-", "_"): value for key, value in raw.items()}
    if any("\0" in str(v) for v in [*options, *options.values()]):
        raise InputError("a job's keys and values may not hold a NUL character")
    command = options.pop("command", None)
    if command not in JOB_COMMANDS:
        raise InputError(f"'command' must be one of {', '.join(JOB_COMMANDS)}; got {command!r}")
    output = options.pop("output", None) or options.pop("o", None)
    if not isinstance(output, str) or not output:
        raise InputError("'output' (a file name inside the output folder) is required")
    relative = Path(output)
    if relative.is_absolute() or ".." in relative.parts:
        raise InputError(f"output {output!r} must be a relative path inside the output folder")
    out_path = Path(os.path.abspath(outdir / relative))
    parser, actions = command_options(command)
    argv, inputs = [command], []
    for key, value in options.items():
        action = actions.get(key)
        if action is None or key in _NOT_JOB_OPTIONS:
            raise InputError(f"{command} has no option {key!r}")
        for item in _values(key, action, value):
            if item is True:
                argv.append(action.option_strings[-1])
                continue
            if action.type is Path or (key in _FILE_OR_NAME and str(item).lower().endswith(_FILE_SUFFIXES)):
                item = os.path.abspath(base / str(item))
                inputs.append(Path(item))
            argv += [action.option_strings[-1], str(item)]
    argv += ["--output", str(out_path)]
    parser.parse_args([*argv, "--quiet", "--no-progress"])  # a bad value is refused here, one line
    for path in inputs:
        if not path.exists():
            raise InputError(f"input not found: {path}")
    canonical = json.dumps([command, output, sorted(options.items(), key=lambda kv: kv[0])], default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return Job(relative.as_posix(), command, tuple(argv), out_path, tuple(inputs), digest)


def _values(key: str, action: argparse.Action, value: Any) -> list[Any]:
    """The option's value as the items of its command line: True for a bare flag, [] for none."""
    if value is None:
        return []
    if action.nargs == 0:  # a flag: store_true / store_false
        if not isinstance(value, bool):
            raise InputError(f"option {key!r} is a flag: give true or false, got {value!r}")
        return [True] if value else []
    if isinstance(value, bool) or isinstance(value, Mapping):
        raise InputError(f"option {key!r} takes a value, got {json.dumps(value)}")
    if isinstance(value, list | tuple):
        if not isinstance(action, argparse._AppendAction):
            raise InputError(f"option {key!r} takes one value, got a list")
        if any(isinstance(v, bool | list | dict) or v is None for v in value):
            raise InputError(f"option {key!r}: every item must be a number or a string")
        return list(value)
    return [value]


def input_options(command: str, *, shown: bool = False) -> frozenset[str]:
    """The names of `command`'s options that are input paths (files or folders it reads); `shown`:
    only those its --help lists (not the older spellings it still takes)."""
    _, actions = command_options(command)
    return frozenset(
        name
        for name, action in actions.items()
        if action.type is Path
        and action.dest != "output"
        and not (shown and action.help == argparse.SUPPRESS)
    )


@functools.lru_cache(maxsize=len(JOB_COMMANDS))
def command_options(command: str) -> tuple[argparse.ArgumentParser, dict[str, argparse.Action]]:
    """`pirender COMMAND`'s parser (raising, not exiting) and its options by name: each long flag
    without its dashes, `-` as `_`, and its dest."""
    from pirender.cli.main import build_parser

    parser = build_parser(command, raising=True)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    actions: dict[str, argparse.Action] = {}
    for action in sub.choices[command]._actions:
        for flag in action.option_strings:
            if flag.startswith("--"):
                actions[flag[2:].replace("-", "_")] = action
    return parser, actions
