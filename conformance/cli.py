"""``ce-conformance``: the command line. Each subcommand lives in its own module, which provides
``add_arguments(parser)`` and ``main(args) -> int``; this file only dispatches and turns
expected failures (a malformed spec, an unknown implementation, a bad argument) into one line
on stderr and exit status 2, never a traceback.

Ctrl-C (SIGINT) and SIGTERM raise ``Interrupted`` in the main thread wherever it is; what
runs unwinds (``conformance.session.run`` stops its job processes, a report folder being
written is left as it was) and the command prints one line and exits 130 or 143. A second
signal during that unwinding is ignored."""

from __future__ import annotations

import os
import signal

#: The process id of the running command, for the processes it starts (they inherit it).
MAIN_PID = "CE_CONFORMANCE_MAIN_PID"
if os.environ.get(MAIN_PID, str(os.getpid())) != str(os.getpid()):
    # A process the command started: multiprocessing's spawn imports the command's module in
    # each child before anything else of it runs, which is the earliest point to ignore the
    # terminal's Ctrl-C (sent to the whole process group; the command alone acts on it). A
    # child importing NumPy or a framework would otherwise die printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import importlib  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from types import FrameType  # noqa: E402

from conformance.commands import CliError  # noqa: E402
from implementations.base import UnknownImplementationError  # noqa: E402

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("conformance.commands.run", "run the spec against implementations and write a report"),
    "list": ("conformance.commands.listing", "list implementations and whether they can run"),
    "explore": ("conformance.commands.explore",
                "search one implementation for divergences with random generated cases"),
    "report": ("conformance.commands.report", "re-render a report folder, or merge several"),
    "gate": ("conformance.commands.gate", "pass/fail one implementation against its expectations"),
}


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; the exit status is 128 plus the signal's number."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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

    with _stop_signals():
        try:
            return int(importlib.import_module(args._module).main(args))
        except (LocatedError, MergeError, FolderError, UnknownImplementationError,
                CliError) as exc:
            print(f"ce-conformance: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            print(f"ce-conformance: interrupted ({signal.Signals(signum).name}); the run is "
                  "stopped and its workers ended; an earlier report is left as it was",
                  file=sys.stderr)
            return 128 + signum


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` (the first one; later ones are ignored while
    the command unwinds); the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if not raised:
            raised.append(signum)
            raise Interrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    main_pid = os.environ.get(MAIN_PID)
    os.environ[MAIN_PID] = str(os.getpid())
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        if main_pid is None:
            os.environ.pop(MAIN_PID, None)
        else:
            os.environ[MAIN_PID] = main_pid


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, KeyError) and text.startswith(("'", '"')):
        text = text[1:-1]
    return " ".join(text.split())


if __name__ == "__main__":  # ``python -m conformance.cli``: the module the commands import
    from conformance.cli import main as imported_main  # (its globals, not __main__'s)

    raise SystemExit(imported_main())
