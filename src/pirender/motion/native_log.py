"""MediaPipe's C++ start-up chatter kept off the user's terminal.

Creating a Face Landmarker and running it the first time print absl/TFLite lines straight to the
process's stderr (file descriptor 2), past Python and past GLOG_minloglevel:

    WARNING: Logging before InitGoogle() is written to STDERR
    W0000 00:00:1796611021.433805    4831 face_landmarker_graph.cc:181] Sets FaceBlendshapesGraph ...
    INFO: Created TensorFlow Lite XNNPACK delegate for CPU.

`quiet_native_stderr()` sends fd 2 to a temporary file for the duration of the block, then writes
back every line that is not such an informational or warning line (errors and fatal messages, and
anything else, still reach stderr, only later). With `PIRENDER_VERBOSE` set (the CLI's `--verbose`)
nothing is dropped.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

# absl "I/W<mmdd> hh:mm:ss.micros thread file:line] ...", TFLite "INFO: ...", absl's pre-init notice.
_CHATTER = re.compile(rb"^(?:[IW]\d{4} [\d:.]+ +\d+ [^\]]+\] |INFO: |WARNING: Logging before InitGoogle)")


VERBOSE_ENV = "PIRENDER_VERBOSE"


def chatter(line: bytes) -> bool:
    """Whether a line of native stderr output is start-up chatter (dropped) rather than a message."""
    return bool(_CHATTER.match(line))


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Drop native informational/warning lines printed to fd 2 inside the block; keep the rest.
    With $PIRENDER_VERBOSE set, a no-op: every line reaches stderr as it is written."""
    if os.environ.get(VERBOSE_ENV):
        yield
        return
    fd = 2  # native code writes to fd 2 whatever sys.stderr is
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            kept = [line for line in sink.read().splitlines(keepends=True) if not chatter(line)]
            if kept:
                os.write(fd, b"".join(kept))
