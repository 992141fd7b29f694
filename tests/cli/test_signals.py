"""SIGTERM and SIGHUP end a command like Ctrl-C: one line, exit 128 + signal, no `.part` left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pirender.cli.signals import Terminated, terminate_on_signals

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")


def test_the_handler_raises_once_and_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as caught, terminate_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler runs at the next bytecode
    assert caught.value.exit_code == 143 and str(caught.value) == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_write_leaves_nothing(tmp_path: Path, signum: int) -> None:
    out = tmp_path / "data"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("PIRENDER_DEBUG", None)
    cmd = [sys.executable, "-m", "pirender.cli.main", "synth", "--out", str(out), "--identities", "40",
           "--frames", "100", "--size", "64", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".data*.part")):  # the dataset is being written
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no .part directory appeared"
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert err.strip().splitlines() == [f"pirender: terminated ({signal.Signals(signum).name})"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no output, no hidden temporary
