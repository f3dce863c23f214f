"""``ce-conformance run``: the main job. Runs the spec (and the generated properties) against
the chosen implementations, each in a worker process of its own, shows progress, prints a
summary and writes the report folder."""

from __future__ import annotations

import argparse
import fnmatch
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from conformance import spec
from conformance.commands import CliError
from conformance.commands.options import (
    add_run_options,
    finish_logs,
    plan_from,
    profile_provenance,
    session_names,
)
from conformance.data import packaged_path
from conformance.expectations import Expectations, expectations_for, load_expectations
from conformance.properties import PROFILES, profile_cases, property_names
from conformance.provenance import provenance
from conformance.report import coverage as coverage_report
from conformance.report import divergences
from conformance.report.folder import check_out, write_folder
from conformance.results import Record, document
from conformance.session import ImplResult, Plan, run
from conformance.severity import severity_of
from conformance.vocabulary import FAULT_VERDICTS, Check, Outcome, Severity, Verdict

DEFAULT_OUT = Path("reports/latest")
NEW_SHOWN = 20  # new causes listed after the table


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
                        help=f"report folder (default: {DEFAULT_OUT}); it is replaced whole, so "
                             "it must be new, empty, or a report folder ce-conformance wrote")
    parser.add_argument("--expectations", action="append", type=Path, metavar="FILE",
                        help="an expectations file (repeatable; each names its implementation), "
                             "for implementations without one under expectations/")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress (a bar on a terminal, else plain lines)")


def main(args: argparse.Namespace) -> int:
    """Run, summarize, write the report; exit 0 whatever the verdicts (``gate`` judges)."""
    console = Console(stderr=True)
    check_out(args.out)
    given = _given_expectations(args.expectations or [])
    spec_path = args.spec or spec.default_spec_path()
    cases = spec.load_spec(spec_path, include=args.case, exclude=args.exclude_case)
    _check_case_globs(args.case or [], spec_path, args.profile)
    names = session_names(args.impl)
    extra, left_out = profile_cases(args.profile, args.case, args.exclude_case)
    for line in left_out:
        console.print(f"[yellow]left out[/] {escape(line)}", highlight=False)
    plan = plan_from(args, cases + extra, default_dtypes=("float64",))
    try:
        results = _run(names, plan, args, console)
    except BaseException:
        finish_logs(plan, None)
        raise
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
    tables = [table.as_dict() for result in results for table in result.coverage]
    doc = document(records, provenance(described, spec.spec_hash(spec_path),
                                       profile=args.profile, seed=args.seed,
                                       dtypes=list(plan.dtypes), devices=list(plan.devices),
                                       **profile_provenance(plan.profile)),
                   skipped, tables)
    write_folder(args.out, doc)
    _summary(records, Console())
    for line in coverage_report.summary_lines(tables):
        Console().print(f"coverage {escape(line)}", highlight=False)
    note = finish_logs(plan, records)
    if note:
        console.print(escape(note), highlight=False)
    console.print(f"report written to {escape(str(args.out))}/")
    console.print(f"start here: {escape(str(start_here(args.out, records)))}", highlight=False)
    return 0


def _given_expectations(paths: list[Path]) -> dict[str, Expectations]:
    """The ``--expectations`` files by the implementation each names; a missing file, or one
    that names no implementation, would be silently unused: a usage error instead."""
    given = {}
    for path in paths:
        loaded = load_expectations(path, missing_ok=False)
        if loaded.implementation is None:
            raise CliError(f"{path}: names no implementation (add 'implementation: NAME', the "
                           "name the implementation reports)")
        given[loaded.implementation] = loaded
    return given


def _check_case_globs(globs: list[str], spec_path: Path, profile: str) -> None:
    """A ``--case`` glob that matches no case id (of the spec or the profile's own spec) is a
    typo: say so rather than run without it."""
    ids = spec.case_ids(spec_path)
    own = PROFILES[profile].spec
    if own is not None:
        ids += spec.case_ids(packaged_path("spec", own))
    for glob in globs:
        if not any(fnmatch.fnmatchcase(case_id, glob) for case_id in ids):
            raise CliError(f"--case {glob!r} matches no case id of {spec_path} (ids look like "
                           f"{ids[0] if ids else 'seed-001'})")


def _run(names: list[str], plan: Plan, args: argparse.Namespace,
         console: Console) -> list[ImplResult]:
    n_properties = len(property_names(plan.profile)) if plan.profile else 0
    per_impl = (len(plan.cases) + n_properties) * len(plan.dtypes) * len(plan.devices)
    if not args.quiet and (not console.is_terminal or console.is_dumb_terminal):
        lines = PlainProgress(per_impl, console)
        first = "; torch's outputs for the accuracy comparison come first" \
            if len(names) > 1 and plan.versus_torch else ""
        console.print(f"running {len(names)} implementation{'s' * (len(names) != 1)} "
                      f"({min(args.jobs, len(names))} at a time), {per_impl} checks each: "
                      f"{escape(', '.join(names))}{first}", highlight=False, soft_wrap=True)
        return run(names, plan, jobs=args.jobs, progress=lines.progress, done=lines.done)
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[counts]}"), console=console,
                  disable=args.quiet) as bar:
        tasks = {name: bar.add_task(escape(name[:40]), total=per_impl, counts="")
                 for name in names}
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        last: dict[str, str] = {}

        def progress(name: str, verdict: str, check: str) -> None:
            task = tasks.get(name)
            if task is None:  # a plugin whose name differs from the one asked for
                task = tasks[name] = bar.add_task(escape(name[:40]), total=per_impl, counts="")
            counts[name][verdict] += 1
            c = counts[name]
            text = (f"[green]{c['conforms']} ok[/] [red]{c['diverges']} diverge[/] "
                    f"[dim]{c['unsupported']} unsupported[/]")
            faults = c["crashed"] + c["timed-out"] + c["out-of-memory"]
            if faults:
                text += f" [bold red]{faults} crashed/timed out/out of memory[/]"
            if c["not-run"]:
                text += f" [bold red]{c['not-run']} not run[/]"
            bar.update(task, advance=_advance(check, last.get(name)), counts=text)
            last[name] = check

        return run(names, plan, jobs=args.jobs, progress=progress)


PLAIN_EVERY = 50  # checks between the plain progress lines of one implementation


def _advance(check: str, previous: str | None = None) -> int:
    """What a record adds to its implementation's count of checks (gradients, the inputs
    check and robustness ride along with the value check of their case; a property's causes
    after its first, which follow it, with the first: ``previous`` is the record before)."""
    if check in ("gradient", "inputs", "robustness"):
        return 0
    return 0 if check.startswith("property:") and check == previous else 1


def _steps(records: list[Record]) -> int:
    """The checks ``records`` count for (``_advance``)."""
    return sum(_advance(r.check, p.check if p else None)
               for p, r in zip([None, *records], records, strict=False))


class PlainProgress:
    """Progress as plain lines, for a log (stderr is not a terminal, as in CI): when an
    implementation starts, every ``PLAIN_EVERY`` checks, and when it is done."""

    def __init__(self, per_impl: int, console: Console) -> None:
        self.per_impl = per_impl
        self.console = console
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.checks: Counter[str] = Counter()
        self.last: dict[str, str] = {}  # the check of each implementation's last record
        self.finished: set[str] = set()
        self.start = time.monotonic()
        self.lock = threading.Lock()  # events and results arrive on two threads

    def _line(self, text: str) -> None:
        self.console.print(f"{_clock(time.monotonic() - self.start)} {escape(text)}",
                           highlight=False, soft_wrap=True)

    def progress(self, name: str, verdict: str, check: str) -> None:
        """One record of ``name``."""
        with self.lock:
            if name in self.finished:
                return
            if not self.counts[name]:
                self._line(f"{name}: started")
            self.counts[name][verdict] += 1
            step = _advance(check, self.last.get(name))
            self.last[name] = check
            self.checks[name] += step
            if step and self.checks[name] % PLAIN_EVERY == 0:
                self._line(f"{name}: {self.checks[name]}/{self.per_impl} checks; results "
                           f"{_verdicts(self.counts[name])}")

    def done(self, result: ImplResult) -> None:
        """``result``'s job is over."""
        with self.lock:
            name = result.described.name if result.described else result.requested
            self.finished.add(name)
            if result.skipped:
                self._line(f"{result.requested}: skipped: {result.skipped}")
                return
            verdicts = Counter(str(r.verdict) for r in result.records)
            checks = _steps(result.records)
            self._line(f"{name}: finished: {checks} checks; results {_verdicts(verdicts)}")


def _verdicts(counts: Counter[str]) -> str:
    text = f"{counts['conforms']} ok, {counts['diverges']} diverge, " \
           f"{counts['unsupported']} unsupported"
    faults = counts["crashed"] + counts["timed-out"] + counts["out-of-memory"]
    text += f", {faults} crashed/timed out/out of memory" if faults else ""
    return text + (f", {counts['not-run']} not run" if counts["not-run"] else "")


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"[{minutes}:{rest:02d}]"


def _summary(records: list[Record], console: Console) -> None:
    """Per implementation: its answer to "silently wrong on valid input?", then one line per
    severity with distinct causes, new and known (``conformance.report``'s groups)."""
    groups = divergences.group(records)
    table = Table(title="cross-entropy conformance (distinct causes: new / known)")
    table.add_column("implementation")
    table.add_column("checks", justify="right")
    table.add_column("conform", justify="right")
    table.add_column("severity")
    table.add_column("new", justify="right")
    table.add_column("known", justify="right")
    for impl in _impl_order(records, groups):
        mine = [r for r in records if r.impl == impl]
        conform = sum(r.verdict == Verdict.CONFORMS for r in mine)
        found = Counter((g.severity, g.known) for g in groups if g.impl == impl)
        severities = sorted({sev for sev, _ in found}, key=lambda s: s.rank)
        first = [escape(impl[:60]), str(len(mine)), str(conform)]
        faulted = fault_line(mine)
        if faulted:
            table.add_row(*first, f"[bold red]{escape(faulted)}[/]", "", "")
            first = ["", "", ""]
        elif Severity.WRONG_ON_VALID not in severities:
            table.add_row(*first, "[green]nothing silently wrong on valid input[/]", "", "")
            first = ["", "", ""]
        for sev in severities:
            new, known = found[(sev, False)], found[(sev, True)]
            style = "bold red" if sev is Severity.WRONG_ON_VALID else \
                "red" if sev.rank <= Severity.REJECTS_VALID.rank else "yellow"
            table.add_row(*first, f"[{style}]{sev}[/]", f"[{style}]{new}[/]" if new else "0",
                          str(known))
            first = ["", "", ""]
    console.print(table)
    fresh = [g for g in groups if not g.known]
    for g in fresh[:NEW_SHOWN]:
        console.print(f"[red]new[/] {g.severity}: {escape(g.title)} "
                      f"({len(g.records)} check{'s' * (len(g.records) != 1)}, "
                      f"e.g. {escape(g.minimal.case)})", highlight=False)
    if len(fresh) > NEW_SHOWN:
        console.print(f"... and {len(fresh) - NEW_SHOWN} more new causes; see the report")


def fault_line(records: list[Record]) -> str | None:
    """What leads an implementation's summary when faults kept most of its checks from a
    verdict (crashes, hangs, out-of-memory, garbage returned, checks not run), else ``None``:
    then "nothing silently wrong on valid input" would say nothing."""
    judged = [r for r in records if r.check not in (Check.INPUTS, Check.ROBUSTNESS) and
              r.verdict != Verdict.UNSUPPORTED]
    faulted = [r for r in judged if r.verdict in FAULT_VERDICTS or r.verdict == Verdict.NOT_RUN
               or r.outcome == Outcome.BAD_RETURN]
    if not faulted or 2 * len(faulted) < len(judged):
        return None
    kinds = Counter("not run" if r.verdict == Verdict.NOT_RUN else
                    "returned no array" if r.outcome == Outcome.BAD_RETURN else str(r.verdict)
                    for r in faulted)
    stopped = next((r.reason for r in faulted if r.verdict == Verdict.NOT_RUN and r.reason), "")
    line = f"FAULTED on {len(faulted)} of {len(judged)} checks (" + \
        ", ".join(f"{n} {k}" for k, n in kinds.most_common()) + "): no verdict on those"
    return line + (f"; {stopped}" if stopped else "")


def _impl_order(records: list[Record], groups: list[divergences.Group]) -> list[str]:
    """torch first, then worst first (as the matrix's columns)."""
    impls = dict.fromkeys(r.impl for r in records)
    def key(impl: str) -> tuple[bool, int, str]:
        ranks = [g.severity.rank for g in groups if g.impl == impl]
        return (impl != divergences.SPEC_IMPL, min(ranks, default=len(Severity)), impl)
    return sorted(impls, key=key)


def start_here(out: Path, records: list[Record]) -> Path:
    """The most useful file of the report: ``divergences.md`` (most severe first) when
    anything was found, else the matrix."""
    if any(severity_of(r) is not None for r in records):
        return out / "divergences.md"
    return out / "matrix.html"
