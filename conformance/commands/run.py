"""``ce-conformance run``: the main job. Runs the spec (and the generated properties) against
the chosen implementations, each in a worker process of its own, shows progress, prints a
summary and writes the report folder."""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from conformance import spec
from conformance.commands.options import add_run_options, logs_note, plan_from, session_names
from conformance.expectations import expectations_for, load_expectations
from conformance.properties import property_names
from conformance.provenance import provenance
from conformance.report.folder import check_writable, write_folder
from conformance.results import Record, document
from conformance.session import ImplResult, Plan, run
from conformance.vocabulary import FAULT_VERDICTS as FAULTS
from conformance.vocabulary import Verdict

DEFAULT_OUT = Path("reports/latest")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``run``."""
    parser.add_argument("--impl", action="append", metavar="NAME",
                        help="implementation to run (repeatable; default: every installed one); "
                             "a registered name or package.module:attribute")
    add_run_options(parser, default_dtypes="float64")
    parser.add_argument("--case", action="append", metavar="GLOB",
                        help="run only the spec cases whose id matches (repeatable)")
    parser.add_argument("--exclude-case", action="append", metavar="GLOB",
                        help="skip the spec cases whose id matches (repeatable)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"report folder (default: {DEFAULT_OUT})")
    parser.add_argument("--expectations", action="append", type=Path, metavar="FILE",
                        help="an expectations file (repeatable; each names its implementation), "
                             "for implementations without one under expectations/")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    """Run, summarize, write the report; exit 0 whatever the verdicts (``gate`` judges)."""
    console = Console(stderr=True)
    check_writable(args.out)
    names = session_names(args.impl)
    given = {e.implementation: e for e in map(load_expectations, args.expectations or [])}
    spec_path = args.spec or spec.default_spec_path()
    plan = plan_from(args, spec.load_spec(spec_path, include=args.case,
                                          exclude=args.exclude_case), default_dtypes=("float64",))
    results = _run(names, plan, args, console)
    records = [r for result in results for r in result.records]
    for result in results:  # mark known divergences with their recorded reasons
        if result.described is not None:
            name = result.described.name
            known = given.get(name) or expectations_for(name)
            known.annotate([r for r in result.records if r.impl == name])
    skipped = {result.requested: result.skipped for result in results if result.skipped}
    for name, reason in skipped.items():
        console.print(f"[yellow]skipped[/] {escape(name)}: {escape(reason)}")
    described = [result.described for result in results if result.described is not None]
    doc = document(records, provenance(described, spec.spec_hash(spec_path),
                                       profile=args.profile, seed=args.seed,
                                       dtypes=list(plan.dtypes), devices=list(plan.devices)),
                   skipped)
    write_folder(args.out, doc)
    _summary(records, Console())
    note = logs_note(plan)
    if note:
        console.print(escape(note), highlight=False)
    console.print(f"report written to {escape(str(args.out))}/")
    return 0


def _run(names: list[str], plan: Plan, args: argparse.Namespace,
         console: Console) -> list[ImplResult]:
    n_properties = len(property_names()) if plan.profile else 0
    per_impl = (len(plan.cases) + n_properties) * len(plan.dtypes) * len(plan.devices)
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[counts]}"), console=console,
                  disable=args.quiet) as bar:
        tasks = {name: bar.add_task(escape(name[:40]), total=per_impl, counts="")
                 for name in names}
        counts: dict[str, Counter[str]] = defaultdict(Counter)

        def progress(name: str, verdict: str, check: str) -> None:
            task = tasks.get(name)
            if task is None:  # a plugin whose name differs from the one asked for
                task = tasks[name] = bar.add_task(escape(name[:40]), total=per_impl, counts="")
            counts[name][verdict] += 1
            c = counts[name]
            text = (f"[green]{c['conforms']} ok[/] [red]{c['diverges']} diverge[/] "
                    f"[dim]{c['unsupported']} unsupported[/]")
            if c["crashed"] or c["timed-out"]:
                text += f" [bold red]{c['crashed'] + c['timed-out']} crashed/timed out[/]"
            advance = 0 if check in ("gradient", "inputs", "robustness") else 1
            bar.update(task, advance=advance, counts=text)

        return run(names, plan, jobs=args.jobs, progress=progress)


def _summary(records: list[Record], console: Console) -> None:
    table = Table(title="cross-entropy conformance")
    for column in ("implementation", "dtype", "device", "conforms", "diverges", "unsupported"):
        table.add_column(column, justify="right" if column in ("conforms", "diverges",
                                                               "unsupported") else "left")
    groups: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for r in records:
        groups[(r.impl, r.dtype, r.device)][r.verdict] += 1
    for (impl, dtype, device), c in groups.items():
        faults = c[Verdict.CRASHED] + c[Verdict.TIMED_OUT]
        table.add_row(escape(impl[:60]), dtype, escape(device), str(c["conforms"]),
                      f"[red]{c['diverges'] + faults}[/]" if c["diverges"] + faults else "0",
                      str(c["unsupported"]))
    console.print(table)
    diverging = [r for r in records if r.verdict in (Verdict.DIVERGES, *FAULTS)]
    for r in diverging[:20]:
        console.print(f"[red]{r.verdict}[/] {escape(r.impl[:60])} {r.dtype} {escape(r.case)} "
                      f"({escape(r.check)}): {escape(r.reason or '')}", highlight=False)
    if len(diverging) > 20:
        console.print(f"... and {len(diverging) - 20} more; see the report")
