"""``ce-conformance explore``: search one implementation with the random ``explore`` profile
and print what diverges, with reproduction snippets; optionally promote findings to the spec."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

from conformance import spec
from conformance.commands import CliError
from conformance.commands.options import positive
from conformance.isolation import Fault, IsolatedImplementation, isolate
from conformance.properties import PROFILES, property_names, run_properties
from conformance.results import Record
from conformance.session import check_names
from conformance.spec import promote
from conformance.vocabulary import FAULT_VERDICTS
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
    """Run the explore profile; exit 1 when something diverges or faulted, else 0."""
    console = Console()
    if args.promote_to is not None:  # before the search: a file findings cannot go into
        _check_spec(args.promote_to)
    impl = _isolated(args.impl)  # in a worker of its own: a crash or a hang is a record
    dtype = args.dtype or (PROFILES[args.profile].dtypes or ("float64",))[0]
    try:
        records = run_properties(impl, profile=args.profile, dtype=dtype, device=args.device,
                                 seed=args.seed, only=args.property,
                                 max_examples=args.max_examples)
    finally:
        impl.close()
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
    faulted = [r for r in records if r.verdict in FAULT_VERDICTS or r.verdict == "not-run"]
    return 1 if found or faulted else 0


def _isolated(name: str) -> IsolatedImplementation:
    """``name`` loaded in a worker of its own, with the default limits (``conformance.limits``);
    a worker that cannot even start is a one-line error."""
    check_names([name])  # an unknown name is the usual one-line error
    try:
        return isolate(name)
    except Fault as exc:
        raise CliError(f"{name}: its worker failed while loading it: {exc}") from None


def _check_spec(path: Path) -> None:
    """Raise unless ``path`` is a spec file (it loads) that can be written: counterexamples are
    appended to it, and nothing is appended to a file of another kind."""
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

