"""Progress bars on stderr, in frames, shown only where someone watches (a terminal)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def frame_bar(items: Iterable[T], total: int, desc: str, enabled: bool = True) -> Iterable[T]:
    """`items` with a tqdm bar on stderr when enabled, stderr is a terminal and there is more than
    one item; otherwise `items` unchanged (a log file or a pipe gets no bar)."""
    isatty = getattr(sys.stderr, "isatty", None)
    if not enabled or total < 2 or not (isatty and isatty()):
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=desc, unit="frame", leave=False, dynamic_ncols=True)
