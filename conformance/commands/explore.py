"""``ce-conformance explore``: search one implementation with the random ``explore`` profile
and print what diverges, with reproduction snippets; optionally promote findings to the spec."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

import implementations
from conformance import spec
from conformance.commands.options import positive
from conformance.properties import PROFILES, promote, property_names, run_properties
from conformance.results import Record
from implementations.base import ALL_DTYPES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``explore``."""
    parser.add_argument("--impl", required=True, metavar="NAME",
                        help="implementation to explore (a registered name or module:attr)")
    parser.add_argument("--seed", type=int, default=None,
                        help="Hypothesis seed (default: a random one, printed)")
    parser.add_argument("--max-examples", type=positive, default=None, metavar="N",
                        help="examples per property (default: the explore profile's)")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="explore",
                        help="generated-case profile (default: explore; large: LLM "
                             "vocabularies, sized from the memory budget)")
    parser.add_argument("--dtype", choices=ALL_DTYPES, default=None,
                        help="dtype (default: the profile's first, else float64)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--property", action="append", choices=property_names(),
                        metavar="NAME", help="only this property (repeatable)")
    parser.add_argument("--promote-to", type=Path, default=None, metavar="SPEC",
                        help="append every counterexample to this spec YAML file")


def main(args: argparse.Namespace) -> int:
    """Run the explore profile; exit 1 when something diverges, else 0."""
    console = Console()
    if args.promote_to is not None:  # before the search: a file findings cannot go into
        _check_spec(args.promote_to)
    impl = implementations.load(args.impl)
    dtype = args.dtype or (PROFILES[args.profile].dtypes or ("float64",))[0]
    records = run_properties(impl, profile=args.profile, dtype=dtype, device=args.device,
                             seed=args.seed, only=args.property, max_examples=args.max_examples)
    seed = records[0].seed if records else args.seed
    console.print(f"explored {impl.name} ({dtype}, {args.device}, profile {args.profile}) "
                  f"with seed {seed}")
    found = [r for r in records if r.verdict == "diverges"]
    for record in records:
        _print(console, record)
    if args.promote_to is not None:
        for record in found:
            case_id = promote(record.as_dict(), args.promote_to)
            if case_id:
                console.print(f"promoted {case_id} to {args.promote_to}")
    return 1 if found else 0


def _check_spec(path: Path) -> None:
    """Raise unless ``path`` is a spec file (it loads) that can be written: counterexamples are
    appended to it, and nothing is appended to a file of another kind."""
    from conformance.cli import CliError

    if not path.is_file():
        raise CliError(f"{path}: no such spec file (--promote-to appends to an existing spec)")
    spec.case_ids(path)  # a LocatedError, file:line, if it is not a valid spec
    if not os.access(path, os.W_OK):
        raise CliError(f"{path}: is not writable (--promote-to appends to it)")


def _print(console: Console, record: Record) -> None:
    style = {"conforms": "green", "diverges": "red"}.get(record.verdict, "dim")
    console.print(f"[{style}]{record.verdict:<11}[/] {record.check}: {record.reason or ''}",
                  highlight=False, markup=True)
    if record.verdict == "diverges" and record.repro:
        console.print(record.repro, highlight=False, markup=False)
        console.print()

