"""Errors a user can cause and fix. The CLI prints these as one line, never a traceback."""

from __future__ import annotations


class PirenderError(Exception):
    """Base class of every error caused by bad input (files, arguments, data)."""


class CheckpointError(PirenderError):
    """A checkpoint or model directory cannot be loaded; the message says which file and why."""


class InputError(PirenderError):
    """An input file or argument is missing, unreadable or malformed."""


def one_line(error: BaseException | str) -> str:
    """An error (or a message) as the one line the CLI and the UI show: whitespace collapsed, an OSError
    as "reason: file", an empty message as the error's type name."""
    if isinstance(error, str):
        return " ".join(error.split())
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.strerror}: {error.filename}"
    return " ".join(text.split())
