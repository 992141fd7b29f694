"""OUTDIR/results.jsonl: one line per finished job (ok or failed), appended as each job ends,
so an interrupted batch loses nothing and a re-run knows what is done."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pirender.jobs.run import JobResult
from pirender.jobs.spec import Job

RESULTS_NAME = "results.jsonl"


class Results:
    """The results file of an output folder."""

    def __init__(self, outdir: str | os.PathLike[str]) -> None:
        self.outdir = Path(outdir)
        self.path = self.outdir / RESULTS_NAME
        self._checked = False  # whether the file's end was looked at (a line cut by a crash)

    def records(self) -> dict[str, dict[str, Any]]:
        """The last record of each job name (a line that does not parse, say cut by a crash, is
        ignored)."""
        last: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("name"), str):
                    last[record["name"]] = record
        return last

    def is_complete(self, job: Job, records: dict[str, dict[str, Any]]) -> bool:
        """Whether `job`'s complete output exists: the last record of its name is this very job (same
        digest; a changed job runs again), it succeeded and its every output is there; or, with no
        record of the name, its output file is there (outputs are written atomically: a file that
        exists is whole)."""
        record = records.get(job.name)
        if record is None:
            return job.output.is_file()
        if record.get("digest") != job.digest or record.get("status") != "ok":
            return False
        return all((self.outdir / name).is_file() for name in record.get("outputs") or [job.name])

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def append(self, result: JobResult) -> None:
        cut = not self._checked and self.path.exists() and self.path.stat().st_size > 0
        cut, self._checked = cut and not self._ends_with_newline(), True  # later lines are ours, whole
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(("\n" if cut else "") + json.dumps(result.to_json()) + "\n")  # after a cut line: its own
            f.flush()
            os.fsync(f.fileno())
