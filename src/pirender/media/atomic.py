"""Atomic output: write to a temporary file beside the target, rename on success.

An error (or Ctrl-C) while writing leaves neither a partial file nor a changed old one. Just before the
rename, the output gets the permissions a plain `open()` / `mkdir()` would have given it (0666 / 0777
less the umask) instead of the owner-only ones `tempfile` (or a writer such as safetensors) created it
with, so a saved file or model directory is as readable as any other.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path with the same suffix as `path`; move it onto `path` when the block succeeds.

    The parent directory must exist and be writable; this is checked before any work is done, so the
    caller fails fast instead of after rendering a whole video.
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(2, "output directory does not exist", str(parent))
    if target.is_dir():
        raise IsADirectoryError(21, "output path is a directory", str(target))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{target.suffix}", dir=parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _set_default_modes(tmp_path)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Like atomic_path for a directory: build it under a temporary name, then rename it into place.

    An existing directory at `path` is replaced only when the new one is complete.
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=parent))
    try:
        yield tmp_path
        _set_default_modes(tmp_path)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=parent))
            os.replace(target, old / "x")
            os.replace(tmp_path, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            shutil.rmtree(tmp_path)


def _set_default_modes(path: Path) -> None:
    """chmod `path` (and everything in it, for a directory; links are left alone) to the mode open() or
    mkdir() would create it with: 0o777 for directories and executables, 0o666 for other files, less
    the umask."""
    umask = _umask()
    entries = [path]
    for root, dirs, files in os.walk(path):  # nothing when `path` is a file
        entries += [Path(root, name) for name in (*dirs, *files)]
    for entry in entries:
        if entry.is_symlink():
            continue
        executable = entry.is_dir() or entry.stat().st_mode & stat.S_IXUSR
        entry.chmod((0o777 if executable else 0o666) & ~umask)


def _umask() -> int:
    """The process umask. It can only be read by setting it: set 0, then put the old value straight back."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
