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
from pirender.errors import PirenderError, one_line
from pirender.extras import missing_extra

_EXIT_USER_ERROR = 1


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like argparse but without the usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _command_modules() -> dict[str, tuple[str, str]]:
    """Map command name -> (module name, help), read from each module's source without importing it."""
    commands: dict[str, tuple[str, str]] = {}
    package_dir = Path(__file__).parent
    for info in pkgutil.iter_modules([str(package_dir)]):
        if info.name in ("main", "common") or info.name.startswith("_"):
            continue
        tree = ast.parse((package_dir / f"{info.name}.py").read_text(encoding="utf-8"))
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
            commands[values["COMMAND"]] = (f"pirender.cli.{info.name}", values.get("HELP", ""))
    return dict(sorted(commands.items()))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="pirender", description="PIRenderer: animate and edit portraits.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in _command_modules().items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.error = _ArgumentParser.error.__get__(p)  # type: ignore[method-assign]
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
    except (PirenderError, FileNotFoundError, IsADirectoryError, PermissionError) as e:  # the user's to fix
        if os.environ.get("PIRENDER_DEBUG"):
            raise
        print(f"pirender {args.command}: error: {one_line(e)}", file=sys.stderr)
        return _EXIT_USER_ERROR
    except Exception as e:  # an internal error (a ValueError too): one line, with a way to get the traceback
        if os.environ.get("PIRENDER_DEBUG"):
            raise
        if (extra := missing_extra(e)) is not None:  # not a bug: an optional extra to install
            print(f"pirender {args.command}: error: {extra}", file=sys.stderr)
            return _EXIT_USER_ERROR
        print(
            f"pirender {args.command}: internal error: {type(e).__name__}: {one_line(e)} "
            "(set PIRENDER_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 3


def _show_warning(command: str, message: Warning | str, *args: object, **kwargs: object) -> None:
    """Warnings reach the user as one line, without the source line Python would print."""
    print(f"pirender {command}: warning: {one_line(str(message))}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
