"""SIGTERM and SIGHUP end a command the way Ctrl-C does: the running work unwinds, so every output
still being written (atomic_path / atomic_dir: a hidden `.part` beside the target) is removed, and the
command says so in one line and exits 128 + the signal's number (143, 129). `timeout`, job
schedulers, container runtimes and a closed terminal send these."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HANDLED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(BaseException):
    """Raised in the main thread by a handled signal (a BaseException, like KeyboardInterrupt, so that
    `except Exception` blocks do not swallow it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextmanager
def terminate_on_signals() -> Iterator[None]:
    """Within the block, a SIGTERM or SIGHUP raises Terminated (once: repeats are ignored while the
    work unwinds). Outside the main thread the block does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        for s in HANDLED:
            signal.signal(s, signal.SIG_IGN)
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in HANDLED}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
