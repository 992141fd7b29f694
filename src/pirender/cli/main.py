"""`pirender` entry point: discovers subcommands and turns user errors into one-line messages.

A subcommand is a module `pirender.cli.<name>` defining

    COMMAND = "name"                              # as typed on the command line
    HELP = "one line"
    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace) -> int: ...  # exit status

Modules are imported only when their command runs, so `pirender info` never imports gradio.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import os
import pkgutil
import sys
import warnings
from pathlib import Path

from pirender.cli.signals import Terminated, terminate_on_signals
from pirender.errors import InputError, PirenderError, one_line
from pirender.extras import missing_extra

_EXIT_USER_ERROR = 1


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like argparse but without the usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


class _RaisingParser(argparse.ArgumentParser):
    """A parser whose errors are InputErrors (a job of a batch or a server: the message is recorded,
    the process goes on)."""

    def error(self, message: str) -> None:
        raise PirenderArgumentError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # --help, --version
        raise PirenderArgumentError(f"{self.prog}: {one_line(message or 'exited')}")


class PirenderArgumentError(InputError):
    """A command line (or a job's options) that the command's parser refuses."""


# Packages above the commands (they run them: a batch, a server) add their own command in `cli.py`,
# so that the commands never import them.
_COMMAND_PACKAGES = ("jobs", "serve")


def _command_modules() -> dict[str, tuple[str, str]]:
    """Map command name -> (module name, help), read from each module's source without importing it."""
    commands: dict[str, tuple[str, str]] = {}
    package_dir = Path(__file__).parent
    sources = [
        (package_dir / f"{info.name}.py", f"pirender.cli.{info.name}")
        for info in pkgutil.iter_modules([str(package_dir)])
        if info.name not in ("main", "common") and not info.name.startswith("_") and not info.ispkg
    ]
    sources += [(package_dir.parent / p / "cli.py", f"pirender.{p}.cli") for p in _COMMAND_PACKAGES]
    for path, module in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        values = {}
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                if node.targets[0].id in ("COMMAND", "HELP") and isinstance(node.value, ast.Constant):
                    values[node.targets[0].id] = node.value.value
        if "COMMAND" in values:
            commands[values["COMMAND"]] = (module, values.get("HELP", ""))
    return dict(sorted(commands.items()))


def build_parser(command: str | None = None, *, raising: bool = False) -> argparse.ArgumentParser:
    """The `pirender` parser, with `command`'s arguments added. `raising`: errors raise
    PirenderArgumentError instead of exiting (for jobs run inside a worker)."""
    kind = _RaisingParser if raising else _ArgumentParser
    parser = kind(prog="pirender", description="PIRenderer: animate and edit portraits.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in _command_modules().items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.error = kind.error.__get__(p)  # type: ignore[method-assign]
        if raising:
            p.exit = kind.exit.__get__(p)  # type: ignore[method-assign]
        if name == command:
            importlib.import_module(module_name).add_arguments(p)
            p.add_argument(
                "--verbose",
                action="store_true",
                help="let native libraries log (MediaPipe/TFLite start-up lines)",
            )
            p.set_defaults(_module=module_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if getattr(args, "_module", None) is None:
        parser.print_help()
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(args._module)
    warnings.showwarning = functools.partial(_show_warning, args.command)
    if args.verbose:
        from pirender.motion.native_log import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"
    if getattr(args, "strict", False):
        from pirender.media.video import TruncatedVideoWarning

        warnings.simplefilter("error", TruncatedVideoWarning)
    try:
        with terminate_on_signals():
            return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("pirender: interrupted", file=sys.stderr)
        return 130
    except Terminated as e:
        print(f"pirender: terminated ({e})", file=sys.stderr)
        return e.exit_code
    except Exception as e:
        if os.environ.get("PIRENDER_DEBUG"):
            raise
        status, message = describe_error(args.command, e)
        print(message, file=sys.stderr)
        return status


def describe_error(command: str, error: Exception) -> tuple[int, str]:
    """-> (exit status, one line) for an error that ended `command`: 1 for the user's to fix (bad
    input, a missing file or optional extra), 3 for an internal error (a ValueError too), with a way
    to get the traceback."""
    if isinstance(error, PirenderError | FileNotFoundError | IsADirectoryError | PermissionError):
        return _EXIT_USER_ERROR, f"pirender {command}: error: {one_line(error)}"
    if (extra := missing_extra(error)) is not None:  # not a bug: an optional extra to install
        return _EXIT_USER_ERROR, f"pirender {command}: error: {extra}"
    return 3, (
        f"pirender {command}: internal error: {type(error).__name__}: {one_line(error)} "
        "(set PIRENDER_DEBUG=1 for a traceback)"
    )


def _show_warning(command: str, message: Warning | str, *args: object, **kwargs: object) -> None:
    """Warnings reach the user as one line, without the source line Python would print."""
    print(f"pirender {command}: warning: {one_line(str(message))}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
