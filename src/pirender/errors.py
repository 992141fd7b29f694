"""Errors a user can cause and fix. The CLI prints these as one line, never a traceback."""

from __future__ import annotations


class PirenderError(Exception):
    """Base class of every error caused by bad input (files, arguments, data)."""


class CheckpointError(PirenderError):
    """A checkpoint or model directory cannot be loaded; the message says which file and why."""


class InputError(PirenderError):
    """An input file or argument is missing, unreadable or malformed."""
