"""``ce-conformance run``: the main job. Runs the spec (and the generated properties) against
the chosen implementations, shows progress, prints a summary and writes the report folder."""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from conformance import spec
from conformance.case import Case
from conformance.expectations import expectations_for, load_expectations
from conformance.properties import property_names
from conformance.provenance import provenance
from conformance.report import render_report
from conformance.results import Record, document, write_results
from conformance.session import Selection, run_spec, select
from implementations.base import ALL_DTYPES

DEFAULT_OUT = Path("reports/latest")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``run``."""
    parser.add_argument("--impl", action="append", metavar="NAME",
                        help="implementation to run (repeatable; default: every installed one); "
                             "a registered name or package.module:attribute")
    parser.add_argument("--dtype", action="append", choices=ALL_DTYPES,
                        help="dtype to run in (repeatable; default: float64)")
    parser.add_argument("--device", action="append", metavar="DEVICE",
                        help="device to run on (repeatable; default: cpu; e.g. cuda)")
    parser.add_argument("--profile", choices=("ci", "explore"), default="ci",
                        help="generated-case profile: ci (derandomized, gated) or explore")
    parser.add_argument("--seed", type=int, default=None, help="seed for generated cases")
    parser.add_argument("--spec", type=Path, default=None, help="spec file (default: built in)")
    parser.add_argument("--case", action="append", metavar="GLOB",
                        help="run only the spec cases whose id matches (repeatable)")
    parser.add_argument("--exclude-case", action="append", metavar="GLOB",
                        help="skip the spec cases whose id matches (repeatable)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"report folder (default: {DEFAULT_OUT})")
    parser.add_argument("--expectations", action="append", type=Path, metavar="FILE",
                        help="an expectations file (repeatable; each names its implementation), "
                             "for implementations without one under expectations/")
    parser.add_argument("--no-gradients", action="store_true", help="skip gradient checks")
    parser.add_argument("--no-properties", action="store_true",
                        help="run the spec cases only, not the generated properties")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    """Run, summarize, write the report; exit 0 whatever the verdicts (``gate`` judges)."""
    console = Console(stderr=True)
    spec_path = args.spec or spec.default_spec_path()
    cases = spec.select_cases(spec.load_spec(spec_path), args.case, args.exclude_case)
    selection = select(args.impl)
    for skipped in selection.skipped:
        console.print(f"[yellow]skipped[/] {skipped.impl}: {skipped.reason}")
    dtypes = args.dtype or ["float64"]
    devices = args.device or ["cpu"]
    records = _run(selection, cases, dtypes, devices, args, console)
    given = {e.implementation: e for e in map(load_expectations, args.expectations or [])}
    for impl in selection.loaded:  # mark known divergences with their recorded reasons
        known = given.get(impl.name) or expectations_for(impl.name)
        known.annotate([r for r in records if r.impl == impl.name])
    doc = document(records, provenance(selection.loaded, spec.spec_hash(spec_path),
                                       profile=args.profile, seed=args.seed, dtypes=dtypes,
                                       devices=devices),
                   {s.impl: s.reason for s in selection.skipped})
    _write(args.out, doc)
    _summary(records, Console())
    console.print(f"report written to {args.out}/")
    return 0


def _run(selection: Selection, cases: list[Case], dtypes: list[str], devices: list[str],
         args: argparse.Namespace, console: Console) -> list[Record]:
    n_properties = 0 if args.no_properties else len(property_names())
    per_impl = (len(cases) + n_properties) * len(dtypes) * len(devices)
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[counts]}"), console=console,
                  disable=args.quiet) as bar:
        tasks = {impl.name: bar.add_task(impl.name, total=per_impl, counts="")
                 for impl in selection.loaded}
        counts: dict[str, Counter[str]] = defaultdict(Counter)

        def progress(name: str, record: Record) -> None:
            counts[name][record.verdict] += 1
            c = counts[name]
            text = (f"[green]{c['conforms']} ok[/] [red]{c['diverges']} diverge[/] "
                    f"[dim]{c['unsupported']} unsupported[/]")
            advance = 0 if record.check == "gradient" else 1
            bar.update(tasks[name], advance=advance, counts=text)

        return run_spec(selection.loaded, cases, dtypes, devices,
                        gradients=not args.no_gradients, progress=progress,
                        profile=None if args.no_properties else args.profile, seed=args.seed)


def _write(out: Path, doc: dict[str, Any]) -> None:
    """Write the report folder: results.json, then everything rendered from it."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        write_results(Path(tmp) / "results.json", doc)
        render_report(doc, Path(tmp))
        for path in sorted(Path(tmp).iterdir()):
            path.replace(out / path.name)


def _summary(records: list[Record], console: Console) -> None:
    table = Table(title="cross-entropy conformance")
    for column in ("implementation", "dtype", "device", "conforms", "diverges", "unsupported"):
        table.add_column(column, justify="right" if column in ("conforms", "diverges",
                                                               "unsupported") else "left")
    groups: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for r in records:
        groups[(r.impl, r.dtype, r.device)][r.verdict] += 1
    for (impl, dtype, device), c in groups.items():
        table.add_row(impl, dtype, device, str(c["conforms"]),
                      f"[red]{c['diverges']}[/]" if c["diverges"] else "0", str(c["unsupported"]))
    console.print(table)
    diverging = [r for r in records if r.verdict == "diverges"]
    for r in diverging[:20]:
        console.print(f"[red]diverges[/] {r.impl} {r.dtype} {r.case} ({r.check}): {r.reason}")
    if len(diverging) > 20:
        console.print(f"... and {len(diverging) - 20} more; see the report")
