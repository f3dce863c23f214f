"""``ce-conformance report``: re-render a report folder from its ``results.json``, or merge the
``results.json`` of several runs (one per backend, a CPU and a GPU machine) into one folder.

    ce-conformance report reports/latest
    ce-conformance report --merge reports/torch reports/jax reports/cuda --out reports/all

The folder is written whole or not at all (``conformance.report.folder``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from conformance.commands import CliError
from conformance.report import MergeError, merge, problems
from conformance.report.folder import check_out, write_folder

DEFAULT_OUT = Path("reports/latest")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``report``."""
    parser.add_argument("dir", nargs="?", type=Path, metavar="DIR",
                        help="report folder to re-render from its own results.json")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="DIR",
                        help="merge the results.json of these folders (later ones win)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"report folder to write (default: DIR, or {DEFAULT_OUT} "
                             "with --merge)")


def main(args: argparse.Namespace) -> int:
    """Read, merge, write results.json and the rendered files."""
    if (args.dir is None) == (args.merge is None):
        raise _error("give either a report folder DIR or --merge DIR [DIR ...]")
    sources = args.merge or [args.dir]
    out = args.out or (DEFAULT_OUT if args.merge else args.dir)
    check_out(out)  # before reading: a folder that is not the tool's to replace fails first
    docs = [load(folder / "results.json") for folder in sources]
    try:
        doc = merge(docs) if args.merge else docs[0]
    except MergeError as exc:
        raise _error(str(exc)) from exc
    write(out, doc)
    print(f"report written to {out}/ ({len(doc['records'])} records)")
    return 0


def load(path: Path) -> dict[str, Any]:
    """A valid ``results.json`` document, or a one-line error naming the file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise _error(f"{path}: no such file (is it a report folder?)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(f"{path}: cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise _error(f"{path}: not JSON: {exc}") from exc
    found = problems(doc)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise _error(f"{path}: not a results.json document: {found[0]}{more}")
    return doc  # type: ignore[no-any-return]


def write(out: Path, doc: dict[str, Any]) -> None:
    """Write ``results.json`` and the rendered files into ``out``, replacing it whole."""
    write_folder(out, doc)


def _error(message: str) -> Exception:
    return CliError(message)
