"""MediaPipe's native start-up chatter is dropped from fd 2; real messages written there are kept."""

from __future__ import annotations

import os

import pytest

from pirender.motion.native_log import chatter, quiet_native_stderr

CHATTER = [
    b"WARNING: Logging before InitGoogle() is written to STDERR\n",
    b"W0000 00:00:1796611021.433805    4831 face_landmarker_graph.cc:181] Sets FaceBlendshapesGraph\n",
    b"I0000 00:00:1796611021.4    12 gl_context.cc:369] GL version: 2.1\n",
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
]
KEPT = [
    b"E0000 00:00:1796611021.433805    4831 graph.cc:1] failed to open model\n",
    b"F0000 00:00:1796611021.433805    4831 graph.cc:1] check failed\n",
    b"Segmentation fault in a library\n",
]


@pytest.mark.parametrize("line", CHATTER)
def test_start_up_lines_are_chatter(line: bytes) -> None:
    assert chatter(line)


@pytest.mark.parametrize("line", KEPT)
def test_errors_and_other_lines_are_not_chatter(line: bytes) -> None:
    assert not chatter(line)


def test_the_block_drops_chatter_and_keeps_the_rest(capfd: pytest.CaptureFixture[str]) -> None:
    with quiet_native_stderr():
        for line in CHATTER + KEPT:
            os.write(2, line)
    os.write(2, CHATTER[1])  # after the block, fd 2 is the real stderr again
    err = capfd.readouterr().err.encode()
    assert err == b"".join(KEPT) + CHATTER[1]


def test_the_block_restores_stderr_when_it_raises(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), quiet_native_stderr():
        os.write(2, KEPT[0])
        raise RuntimeError("boom")
    os.write(2, b"after\n")
    assert capfd.readouterr().err.encode() == KEPT[0] + b"after\n"


def test_verbose_keeps_every_line(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from pirender.motion.native_log import VERBOSE_ENV

    monkeypatch.setenv(VERBOSE_ENV, "1")
    with quiet_native_stderr():
        for line in CHATTER + KEPT:
            os.write(2, line)
    assert capfd.readouterr().err.encode() == b"".join(CHATTER + KEPT)


def test_every_command_takes_verbose(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pirender.cli.main import _command_modules, main
    from pirender.motion.native_log import VERBOSE_ENV
    from pirender.pipelines.models import DEFAULT_RENDERER

    for command in _command_modules():
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--verbose" in capsys.readouterr().out, command
    monkeypatch.setenv(VERBOSE_ENV, "")  # recorded (absent or not) and restored after the test
    monkeypatch.delenv(VERBOSE_ENV)
    assert main(["info", str(DEFAULT_RENDERER), "--verbose"]) == 0
    assert os.environ.get(VERBOSE_ENV) == "1"
