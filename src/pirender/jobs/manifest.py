"""A batch manifest: JSONL (one job object a line) or CSV (a header of option names, one job a row),
read and checked whole before any job runs.

CSV cells are text: an empty cell leaves the option out, `true`/`false` set a flag, and a repeatable
option takes its values separated by `;` (`smile=1;jaw_open=0.5`). Blank lines and lines starting
with `#` are skipped in both.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from pirender.errors import InputError
from pirender.jobs.spec import JOB_COMMANDS, Job, command_options, parse_job


class ManifestError(InputError):
    """A manifest with problems: `problems` holds one line each; nothing was run."""

    def __init__(self, manifest: Path, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        super().__init__(f"{manifest}: {len(problems)} problem(s), nothing run: {shown}")


def read_manifest(path: str | os.PathLike[str], outdir: str | os.PathLike[str]) -> list[Job]:
    """Every job of the manifest at `path`, checked: each line parses and names a known command,
    known options and inputs that exist; no two jobs write the same output; no output is any job's
    input. Input paths are relative to the manifest's folder, outputs to `outdir`. Raises
    ManifestError listing every problem (line by line) when there is any."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest not found: {path}")
    base, outdir = path.resolve().parent, Path(outdir)
    problems: list[str] = []
    jobs: list[tuple[int, Job]] = []
    for line, raw in _rows(path, problems):
        try:
            jobs.append((line, parse_job(raw, base=base, outdir=outdir)))
        except (InputError, ValueError) as e:  # ValueError: a path the OS refuses
            problems.append(f"line {line}: {e}")
    seen: dict[Path, int] = {}
    inputs = [(line, p.resolve()) for line, job in jobs for p in job.inputs]
    for line, job in jobs:
        out = job.output.resolve()
        if out in seen:
            problems.append(f"line {line}: output {job.name} is also line {seen[out]}'s output")
        seen.setdefault(out, line)
        user = next(((n, p) for n, p in inputs if p == out or (out.exists() and _same(out, p))), None)
        if user is not None:
            problems.append(f"line {line}: output {job.name} is line {user[0]}'s input {user[1]}")
    if not jobs and not problems:
        problems.append("no jobs")
    if problems:
        raise ManifestError(path, problems)
    return [job for _, job in jobs]


def _rows(path: Path, problems: list[str]) -> list[tuple[int, Any]]:
    """(line number, raw job) for each job line; unreadable lines go to `problems`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"manifest {path}: cannot be read as UTF-8 text ({e})") from None
    if path.suffix.lower() == ".csv":
        return _csv_rows(text, problems)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as e:
            problems.append(f"line {number}: not JSON ({e.msg} at column {e.colno})")
    return rows


def _csv_rows(text: str, problems: list[str]) -> list[tuple[int, Any]]:
    # comments become blank lines (skipped by the reader) so that line numbers stay the file's
    lines = ["" if line.lstrip().startswith("#") else line for line in text.splitlines()]
    reader = csv.DictReader(lines)
    rows = []
    for row in reader:
        number = reader.line_num
        if None in row or any(v is None for v in row.values()):
            problems.append(
                f"row {number}: {len(row)} cells where the header has {len(reader.fieldnames or [])}"
            )
            continue
        cells = {k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()}
        if cells:
            rows.append((number, _typed(cells)))
    return rows


def _typed(cells: dict[str, str]) -> dict[str, Any]:
    """CSV text -> the JSON values a job takes: flags as booleans, repeatable options as lists."""
    command = cells.get("command")
    if command not in JOB_COMMANDS:  # parse_job says what is wrong
        return cells
    _, actions = command_options(command)
    typed: dict[str, Any] = {}
    for key, value in cells.items():
        action = actions.get(key.replace("-", "_"))
        if action is not None and action.nargs == 0 and value.lower() in ("true", "false"):
            typed[key] = value.lower() == "true"
        elif action is not None and action.__class__.__name__ == "_AppendAction":
            typed[key] = [v.strip() for v in value.split(";") if v.strip()]
        else:
            typed[key] = value
    return typed


def _same(a: Path, b: Path) -> bool:
    try:
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return False
