"""``ce-conformance gate``: the CI job. Runs the spec (and the derandomized generated properties)
on one implementation in a worker process of its own, applies its expectations file, prints what
is new, known and fixed, and exits with a status that says which.

Exit status (``EXIT_STATUS``): 0 conforms (apart from listed divergences); 1 a new divergence,
or with ``--strict`` a listed divergence that is fixed or matches nothing; 2 a usage error
(unknown implementation, framework not installed, malformed expectations file or spec);
3 faults kept checks from a verdict: the implementation crashed, timed out, ran out of memory or
returned something that is not an array on a check (and no entry lists it), the circuit breaker
stopped it (``--max-faults``, ``--impl-budget``: its remaining checks are not-run), or nothing
ran (e.g. a device it does not have: a missing device is not a pass).
The verdict is deterministic: records are sorted, and the ``ci`` profile is derandomized.

With ``--results FILE`` the gate runs nothing: it judges the implementation's records in the
``results.json`` of an earlier ``ce-conformance run`` on the same spec (within the options'
dtypes, devices, cases and checks), so one main job can be gated per implementation.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from conformance import config as ce_config
from conformance import spec
from conformance.commands import CliError
from conformance.commands.options import (
    add_run_options,
    finish_logs,
    plan_from,
    profile_provenance,
    session_names,
)
from conformance.expectations import (
    Annotated,
    ExpectationsError,
    expectations_for,
    load_expectations,
)
from conformance.properties import PROFILES, left_out_cases, profile_cases
from conformance.provenance import provenance
from conformance.report import divergences
from conformance.report.folder import check_out, check_writable, write_folder
from conformance.results import Record, document, read_results, write_atomic
from conformance.session import Plan, run
from conformance.vocabulary import FAULT_VERDICTS, Check, Origin, Outcome, Severity, Verdict

EXAMPLES_SHOWN = 5  # checks listed per new cause (all of them are in --junit and --out)


EXIT_STATUS = {0: "conforms apart from listed divergences", 1: "a new divergence",
               2: "usage error",
               3: "a crash, timeout, out-of-memory or non-array return, checks stopped by "
                  "--max-faults, or nothing ran"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``gate``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "exit status:\n" + "\n".join(f"  {k} {v}" for k, v in EXIT_STATUS.items())
    parser.add_argument("--impl", metavar="NAME",
                        help="the implementation to gate: a registered name or "
                             "package.module:attribute (default: $CE_CONFORMANCE_IMPL, else "
                             "impl in [tool.ce-conformance] of pyproject.toml)")
    parser.add_argument("--expectations", type=Path, metavar="FILE",
                        help="known divergences (default for a built-in: "
                             "expectations/<name>.yaml; none otherwise)")
    parser.add_argument("--strict", action="store_true",
                        help="also fail when a listed divergence is fixed or matches nothing")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    parser.add_argument("--results", type=Path, metavar="FILE",
                        help="judge the implementation's records in this results.json (from "
                             "`ce-conformance run` on the same spec) instead of running it")
    add_run_options(parser, default_dtypes="every dtype the implementation declares")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="also write DIR/results.json (DIR is replaced whole: it must be "
                             "new, empty, or a report folder ce-conformance wrote)")
    parser.add_argument("--exclude", action="append", metavar="CASE_GLOB",
                        help="leave out the spec cases whose id matches (repeatable)")


def main(args: argparse.Namespace) -> int:
    """Run, judge against the expectations, report; return the exit status."""
    _apply_settings(args)
    (name,) = session_names([args.impl])
    if args.expectations is not None:  # a bad file is a usage error before any work
        try:
            load_expectations(args.expectations, declared_name(name), missing_ok=False)
        except ExpectationsError as exc:
            raise CliError(str(exc)) from None
    if args.junit is not None:
        check_writable(args.junit.parent)
    if args.out is not None:
        check_out(args.out)
    spec_path = args.spec or spec.default_spec_path()
    extra, left_out = profile_cases(args.profile, exclude=args.exclude)
    for line in left_out:
        print(f"gate {name}: left out {line}", file=sys.stderr)
    plan = plan_from(args, spec.load_spec(spec_path, exclude=args.exclude) + extra,
                     default_dtypes=())
    if args.results is not None:
        finish_logs(plan, None)  # nothing runs: no worker writes there
        impl_name, records, frameworks = recorded(args.results, name, plan,
                                                  spec.spec_hash(spec_path))
        described = None
    else:
        every = 1 if PROFILES[args.profile].scaled else PROGRESS_EVERY
        try:
            (result,) = run([name], plan, jobs=1, progress=_progress(name, every))
        except BaseException:
            finish_logs(plan, None)
            raise
        note = finish_logs(plan, result.records)
        if note:
            print(f"gate {name}: {note}", file=sys.stderr)
        if result.skipped:
            raise CliError(f"{args.impl} cannot run here: {result.skipped}")
        described = result.described
        if described is None:  # its worker failed while loading it: no check could run
            why = "; ".join(r.reason or "" for r in result.records) or "it did not load"
            print(f"gate {name}: nothing ran: {why}", file=sys.stderr)
            return 3
        missing = [d for d in plan.devices if d not in described.devices]
        if missing:
            print(f"gate {described.name}: nothing ran: it has no {', '.join(missing)} device "
                  f"(it has {', '.join(described.devices)}); a missing device is not a pass",
                  file=sys.stderr)
            return 3
        impl_name, records, frameworks = described.name, result.records, None
    try:
        expectations = expectations_for(impl_name, args.expectations)
    except ExpectationsError as exc:
        raise CliError(str(exc)) from None
    annotated = expectations.annotate(records, left_out_cases(spec_path, plan.cases))
    status = _status(annotated, args.strict)
    dtypes = sorted({r.dtype for r in records})
    print_summary(annotated, impl_name, dtypes, list(plan.devices), args.strict, [],
                  sys.stdout)
    if args.junit:
        write_atomic(args.junit, junit_xml(annotated, impl_name, strict=args.strict))
    if args.out:
        prov = provenance([described] if described else [], spec.spec_hash(spec_path),
                          profile=args.profile, seed=args.seed, dtypes=dtypes,
                          devices=list(plan.devices), **profile_provenance(plan.profile),
                          **({"judged_from": str(args.results)} if args.results else {}))
        if frameworks is not None:  # the judged records' versions, as their run recorded them
            prov["frameworks"] = {impl_name: frameworks}
        write_folder(args.out, document(annotated.records, prov), render=False)
    return status


PROGRESS_EVERY = 100  # checks between progress lines on stderr


def _apply_settings(args: argparse.Namespace) -> None:
    """Fill what the command line left out from $CE_CONFORMANCE_IMPL and [tool.ce-conformance]
    (the command line wins; ``conformance.config``)."""
    try:
        chosen = ce_config.settings({"impl": args.impl, "expectations": args.expectations,
                                     "dtypes": args.dtype, "devices": args.device,
                                     "strict": args.strict or None})
    except ce_config.ConfigError as exc:
        raise CliError(str(exc)) from None
    if not chosen.impl:
        raise CliError("no implementation to gate: pass --impl NAME, set "
                       f"{ce_config.ENV_IMPL}, or set impl in [tool.ce-conformance]")
    args.impl, args.expectations, args.strict = chosen.impl, chosen.expectations, chosen.strict
    args.dtype = list(chosen.dtypes) or None
    args.device = list(chosen.devices) or None


def _progress(name: str, every: int = PROGRESS_EVERY) -> Callable[[str, str, str], None]:
    """A line on stderr every ``every`` checks, so a slow gate shows it is alive (every check,
    with the time, in a profile of large calls)."""
    done = Counter[str]()
    start = time.monotonic()

    def progress(impl: str, verdict: str, check: str) -> None:
        done[verdict] += 1
        total = sum(done.values())
        if total % every == 0:
            print(f"gate {name}: {total} checks done ({done['conforms']} conform; last "
                  f"{check}, {time.monotonic() - start:.0f} s)", file=sys.stderr, flush=True)
    return progress


def recorded(path: Path, name: str, plan: Plan,
             spec_sha256: str) -> tuple[str, list[Record], dict[str, Any] | None]:
    """The records of implementation ``name`` in the results document at ``path``, within the
    plan's dtypes, devices, cases and checks, and the framework versions its run recorded
    (``None`` when none); a ``CliError`` (one line) when the file cannot be read, is of
    another spec, or holds no record of ``name``."""
    try:
        doc = read_results(path)
        provenance_of = doc["provenance"]
        found = [Record.from_dict(r) for r in doc["records"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError(f"{path}: not a results.json of ce-conformance ({exc})") from None
    if provenance_of.get("spec_sha256") != spec_sha256:
        raise CliError(f"{path}: its records are of another spec (spec_sha256 "
                       f"{str(provenance_of.get('spec_sha256'))[:12]}...); run again")
    impl = _recorded_name(name, {r.impl for r in found})
    if impl is None:
        names = ", ".join(sorted({r.impl for r in found})) or "none"
        raise CliError(f"{path}: no record of {name} (it has {names})")
    case_ids = {c.id for c in plan.cases}
    frameworks = (provenance_of.get("frameworks") or {}).get(impl)
    return impl, [r for r in found if r.impl == impl and _planned(r, plan, case_ids)], \
        frameworks


def _recorded_name(name: str, present: set[str]) -> str | None:
    """``name`` as the records call it: itself, or the ``name`` of a ``module:attr``."""
    if name in present:
        return name
    if ":" in name:
        module, _, attr = name.partition(":")
        own = getattr(getattr(importlib.import_module(module), attr, None), "name", None)
        return own if own in present else None
    return None


def _planned(record: Record, plan: Plan, case_ids: set[str]) -> bool:
    """Whether the plan covers ``record`` (its dtypes and devices, cases, properties)."""
    if plan.dtypes and record.dtype not in plan.dtypes:
        return False
    if record.device not in plan.devices:
        return False
    if record.origin == Origin.GENERATED:
        return plan.profile is not None
    if record.origin == Origin.COVERING:  # the profile's covering cases (conformance.coverage)
        return plan.profile is not None and (plan.gradients or record.check != Check.GRADIENT)
    if record.check in (Check.INPUTS, Check.ROBUSTNESS):
        return True
    return record.case in case_ids and (plan.gradients or record.check != Check.GRADIENT)


def _status(annotated: Annotated, strict: bool) -> int:
    """3 when faults kept checks from a verdict: an unlisted crash, timeout, out-of-memory or
    garbage returned, a check the circuit breaker stopped, or no check that ran at all; else
    the expectations' 0/1."""
    if not any(r.verdict in (Verdict.CONFORMS, Verdict.DIVERGES) and
               r.outcome != Outcome.BAD_RETURN for r in annotated.records):
        return 3
    if any(r.verdict in FAULT_VERDICTS or r.outcome == Outcome.BAD_RETURN
           for r in annotated.new):
        return 3
    if any(r.verdict == Verdict.NOT_RUN for r in annotated.records):
        return 3
    return annotated.exit_status(strict=strict)


def declared_name(name: str) -> str | None:
    """The name an implementation will report, known before loading it: a registered name is
    its own; a ``module:attr`` says it in its ``name`` attribute (``None`` when it does not)."""
    if ":" not in name:
        return name
    module, _, attr = name.partition(":")
    try:
        own = getattr(getattr(importlib.import_module(module), attr, None), "name", None)
    except Exception:
        return None
    return own if isinstance(own, str) else None


# --- the readable summary ---------------------------------------------------------------------


def print_summary(annotated: Annotated, name: str, dtypes: Sequence[str],
                  devices: Sequence[str], strict: bool, notes: Sequence[str],
                  out: TextIO) -> None:
    """What the gate found, most important first: one line per severity, then the new
    findings grouped by cause across dtypes (most severe first, each with a repro), then what
    is fixed or stale, then the verdict."""
    verdicts = Counter(str(r.verdict) for r in annotated.records)
    new = divergences.group(annotated.new)
    known = divergences.group(record for record, _ in annotated.known)
    write = out.write
    write(f"gate {name} ({', '.join(dtypes)}; {', '.join(devices)}): "
          f"{len(annotated.records)} checks: {verdicts['conforms']} conform, "
          f"{len(annotated.new)} new findings ({_causes(len(new))}), "
          f"{len(annotated.known)} known ({_causes(len(known))}), "
          f"{verdicts['unsupported']} unsupported, "
          f"{verdicts['crashed'] + verdicts['timed-out'] + verdicts['out-of-memory']} crashed, "
          f"timed out or ran out of memory, {verdicts['not-run']} not run\n")
    for note in notes:
        write(f"note: {note}\n")
    for line in severity_lines(new, known):
        write(f"  {line}\n")
    for g in new:
        _print_group(g, write)
    _print_entries(annotated, strict, write)
    _print_verdict(annotated, len(new), strict, write)


def _causes(n: int) -> str:
    return f"{n} cause" + "s" * (n != 1)


def severity_lines(new: Sequence[divergences.Group],
                   known: Sequence[divergences.Group]) -> list[str]:
    """``wrong on valid input: 1 new (2 checks), 0 known (distinct causes)``, one per
    severity found, most severe first."""
    lines = []
    for sev in Severity:
        n = [g for g in new if g.severity is sev]
        k = [g for g in known if g.severity is sev]
        if n or k:
            checks = sum(len(g.records) for g in n)
            plural = "s" * (checks != 1)
            lines.append(f"{sev}: {len(n)} new ({checks} check{plural}), {len(k)} known "
                         "(distinct causes)")
    return lines


def _print_group(g: divergences.Group, write: Callable[[str], Any]) -> None:
    m = g.minimal
    write(f"\nNEW {g.severity}: {g.impl} · {g.check}: {g.headline}\n"
          f"  {len(g.records)} checks in {', '.join(g.dtypes)} on {', '.join(g.devices)}\n")
    for record in g.records[:EXAMPLES_SHOWN]:
        label = "DIVERGENCE" if record.verdict == Verdict.DIVERGES else record.verdict.upper()
        write(f"  NEW {label} {record.case} [{record.check}, {record.dtype}, "
              f"{record.device}]: {record.reason}\n")
    if len(g.records) > EXAMPLES_SHOWN:
        write(f"  ... and {len(g.records) - EXAMPLES_SHOWN} more checks (in --junit and --out)\n")
    if m.exception:
        write(f"  raised {m.exception}\n")
    if m.origin == Origin.GENERATED and m.signature:
        write(f"  signature: {m.signature}   (select it with signature: in expectations)\n")
    if m.location:
        write(f"  defined at {m.location}\n")
    if m.repro:
        write(f"  reproduce with ({m.case}, {m.dtype}):\n" + _indent(m.repro, "    ") + "\n")


def _print_entries(annotated: Annotated, strict: bool, write: Callable[[str], Any]) -> None:
    if annotated.known:
        per_entry = Counter(entry.location for _, entry in annotated.known)
        write(f"\nknown divergences: {len(annotated.known)} checks, covered by "
              f"{len(per_entry)} entries\n")
    if annotated.not_run:
        write(f"\n{len(annotated.not_run)} entries select only checks this run left out "
              "(dtype, device, gradients, properties or spec cases); not judged\n")
    level = "error" if strict else "warning"
    for entry in annotated.fixed:
        write(f"\nFIXED ({level}): {entry.describe()}\n  every check it selects conforms now; "
              "remove the entry\n")
    for entry in annotated.unmatched:
        write(f"\nUNMATCHED ({level}): {entry.describe()}\n  it selects no check that ran; "
              "fix or remove the selector\n")


def _print_verdict(annotated: Annotated, causes: int, strict: bool,
                   write: Callable[[str], Any]) -> None:
    if annotated.new:
        write(f"\nFAIL: {len(annotated.new)} new findings ({_causes(causes)}); fix them, or "
              "list them with a reason in the expectations file\n")
    elif annotated.exit_status(strict=strict):
        write("\nFAIL (--strict): the expectations file is out of date\n")
    else:
        write("\nOK: conforms apart from listed divergences\n")


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


# --- JUnit XML --------------------------------------------------------------------------------


def junit_xml(annotated: Annotated, name: str, *, strict: bool = False) -> str:
    """One testcase per record (and one per fixed or unmatched entry); no timestamps, so two
    runs of the same commit give the same bytes."""
    known = {id(record): entry for record, entry in annotated.known}
    new = {id(record) for record in annotated.new}
    suite = ET.Element("testsuite", name=f"ce-conformance gate {name}")
    counts: Counter[str] = Counter()
    for record in annotated.records:
        case = ET.SubElement(suite, "testcase", name=f"{record.case} [{record.check}]",
                             classname=f"ce_conformance.{name}.{record.dtype}.{record.device}")
        counts["tests"] += 1
        if id(record) in new:
            counts["failures"] += 1
            failure = ET.SubElement(case, "failure", message=record.reason or "diverges",
                                    type="divergence" if record.verdict == Verdict.DIVERGES
                                    else str(record.verdict))
            failure.text = "\n".join(x for x in (record.reason, record.exception, record.repro)
                                     if x)
        elif id(record) in known:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"known divergence: {record.expected_reason}")
        elif record.verdict in ("unsupported", "not-run"):
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"{record.verdict}: {record.reason or ''}")
    for kind, entries in (("fixed", annotated.fixed), ("unmatched", annotated.unmatched)):
        for entry in entries:
            case = ET.SubElement(suite, "testcase", name=f"{kind}: {entry.location}",
                                 classname=f"ce_conformance.{name}.expectations")
            counts["tests"] += 1
            if strict:
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=f"{kind} expectation: {entry.describe()}",
                              type=kind)
    for key in ("tests", "failures", "skipped"):
        suite.set(key, str(counts[key]))
    suite.set("errors", "0")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"
