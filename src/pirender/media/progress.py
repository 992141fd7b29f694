"""Progress in frames: a bar on stderr where someone watches (a terminal), and, where a process has
set one, a listener told how far each pass over frames has come (the server's job progress)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
Listener = Callable[[int, int, str], None]  # (frames done, total, what is being done)

_listener: list[Listener] = []


def set_progress_listener(listener: Listener | None) -> None:
    """Have `listener(done, total, desc)` called as every frame pass of this process advances (None
    removes it). Called on every frame: the listener should be cheap or throttle itself."""
    _listener[:] = [] if listener is None else [listener]


def watched() -> bool:
    """Whether someone watches stderr (a terminal, not a log file or a pipe): where bars go."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def frame_bar(items: Iterable[T], total: int, desc: str, enabled: bool = True) -> Iterable[T]:
    """`items` with a tqdm bar on stderr when enabled, stderr is a terminal and there is more than
    one item; otherwise `items` unchanged (a log file or a pipe gets no bar). A progress listener,
    if set, hears of every item either way."""
    if _listener:
        items = _reported(items, total, desc, _listener[0])
    if not enabled or total < 2 or not watched():
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=desc, unit="frame", leave=False, dynamic_ncols=True)


def _reported(items: Iterable[T], total: int, desc: str, listener: Listener) -> Iterator[T]:
    listener(0, total, desc)
    for done, item in enumerate(items, start=1):
        yield item
        listener(done, total, desc)
