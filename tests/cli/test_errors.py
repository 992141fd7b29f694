"""What the CLI shows for a failure inside a command: a PirenderError (or a missing file) is the user's
to fix, `pirender X: error: ...`, exit 1; anything else, a ValueError too, is a bug in pirender:
`pirender X: internal error: ...`, exit 3. Either way one line and no traceback."""

from __future__ import annotations

import argparse

import pytest

import pirender.cli.info
from pirender.cli.main import main
from pirender.errors import CheckpointError, InputError, PirenderError


def _fail_with(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    def run(args: argparse.Namespace) -> int:
        raise error

    monkeypatch.delenv("PIRENDER_DEBUG", raising=False)
    monkeypatch.setattr(pirender.cli.info, "run", run)


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (PirenderError("the source has no face"), "pirender info: error: the source has no face"),
        (InputError("clip.mp4: corrupt\n video"), "pirender info: error: clip.mp4: corrupt video"),
        (CheckpointError("model.pt: truncated"), "pirender info: error: model.pt: truncated"),
        (
            FileNotFoundError(2, "No such file or directory", "gone.png"),
            "pirender info: error: No such file or directory: gone.png",
        ),
    ],
)
def test_a_user_error_is_one_error_line_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: BaseException, line: str
) -> None:
    _fail_with(monkeypatch, error)
    assert main(["info", "model.pt"]) == 1
    captured = capsys.readouterr()
    assert captured.err == line + "\n" and "Traceback" not in captured.err and not captured.out


@pytest.mark.parametrize("error", [ValueError("expected (T, 73) motion, got (4, 70)"), TypeError("bad arg")])
def test_a_value_error_is_an_internal_error_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception
) -> None:
    _fail_with(monkeypatch, error)
    assert main(["info", "model.pt"]) == 3
    err = capsys.readouterr().err
    assert err == (
        f"pirender info: internal error: {type(error).__name__}: {error} (set PIRENDER_DEBUG=1 for a traceback)\n"
    )
    assert "Traceback" not in err


def test_pirender_debug_raises_the_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_with(monkeypatch, ValueError("boom"))
    monkeypatch.setenv("PIRENDER_DEBUG", "1")
    with pytest.raises(ValueError, match="boom"):
        main(["info", "model.pt"])


def test_a_bad_config_value_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    """RendererConfig's checks are InputErrors: still one error line, not an internal error."""
    assert main(["train", "--dry-run", "--set", "renderer.semantic_radius=2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pirender train: error: semantic_radius 2 gives a 5-frame window")
    assert len(err.splitlines()) == 1


def test_usage_errors_stay_argparse_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["info"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "pirender info: error: the following arguments are required: path\n"
