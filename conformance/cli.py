"""``ce-conformance``: the command line. Each subcommand lives in its own module, which provides
``add_arguments(parser)`` and ``main(args) -> int``; this file only dispatches and turns
expected failures (a malformed spec, an unknown implementation, a bad argument) into one line
on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from implementations.base import UnknownImplementationError

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("conformance.commands.run", "run the spec against implementations and write a report"),
    "list": ("conformance.commands.listing", "list implementations and whether they can run"),
    "explore": ("conformance.commands.explore",
                "search one implementation for divergences with random generated cases"),
    "report": ("conformance.commands.report", "re-render a report folder, or merge several"),
    "gate": ("conformance.commands.gate", "pass/fail one implementation against its expectations"),
}


class CliError(Exception):
    """An expected failure: its message is printed as one line and the exit status is 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="ce-conformance",
        description="Differential conformance suite for PyTorch's cross-entropy loss.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(command)
        command.set_defaults(_module=module)
    return parser


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("ce-conformance")
    except metadata.PackageNotFoundError:
        from conformance import __version__

        return f"{__version__} (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    from conformance.report import MergeError
    from conformance.report.folder import FolderError
    from conformance.yamlfile import LocatedError

    try:
        return int(importlib.import_module(args._module).main(args))
    except (LocatedError, MergeError, FolderError, UnknownImplementationError, CliError) as exc:
        print(f"ce-conformance: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ce-conformance: interrupted; no report was written", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, KeyError) and text.startswith(("'", '"')):
        text = text[1:-1]
    return " ".join(text.split())


if __name__ == "__main__":
    raise SystemExit(main())
