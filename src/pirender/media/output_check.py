"""Checks on an output path made before any work: the right suffix, a folder that exists and can be
written, not a directory where a file goes (or the reverse), and never one of the inputs. Each
failure is a one-line InputError naming the output, not the temporary file it would be written as."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pirender.errors import InputError


def check_output_path(
    path: str | os.PathLike[str],
    suffixes: Sequence[str],
    *,
    what: str = "output",
    inputs: Sequence[Any] = (),
) -> Path:
    """Fail before any work when `path` cannot be written: wrong suffix, missing or read-only folder,
    an existing directory, or one of `inputs` (file paths; other values are ignored) under any name.
    Returns the path."""
    path = Path(path)
    refuse_input_as_output(path, inputs, what=what)
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{what} {path}: expected a file ending in {', '.join(suffixes)}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{what} {path}: the folder {parent} does not exist")
    if path.is_dir():
        raise InputError(f"{what} {path} is a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{what} {path}: the folder {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{what} {path}: not writable")
    return path


def check_output_dir(
    path: str | os.PathLike[str], *, what: str = "output folder", inputs: Sequence[Any] = ()
) -> Path:
    """Fail before any work when the folder `path` cannot be written: a file is there, one of `inputs`
    is there, or the nearest existing folder above it is not writable (missing parents are made).
    Returns the path."""
    path = Path(path)
    refuse_input_as_output(path, inputs, what=what)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {path} exists and is not a folder")
    above = path.parent if str(path.parent) else Path(".")
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise InputError(f"{what} {path}: {above} is not a folder")
    if not os.access(above, os.W_OK | os.X_OK):
        raise InputError(f"{what} {path}: the folder {above} is not writable")
    return path


def refuse_input_as_output(path: Path, inputs: Sequence[Any], *, what: str = "output") -> None:
    """An output that is an input (the same path, a symlink to it, a hard link, `./x` for `x`) would
    destroy the input: a one-line InputError instead."""
    if not path.exists():
        return
    for item in inputs:
        if not isinstance(item, str | os.PathLike) or not Path(item).exists():
            continue
        if os.path.samefile(path, item):
            raise InputError(f"{what} {path} is the input {item}; choose another output path")
