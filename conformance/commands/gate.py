"""``ce-conformance gate``: the CI job. Runs the spec (and the derandomized generated properties)
on one implementation, applies its expectations file, prints what is new, known and fixed, and
exits 0 when the implementation conforms apart from its listed divergences, 1 otherwise.

Exit status: 0 conforms (apart from listed divergences); 1 a new divergence, or with
``--strict`` a listed divergence that is fixed or matches nothing; 2 a usage error (unknown
implementation, framework not installed, malformed expectations file or spec).
The verdict is deterministic: records are sorted, and the ``ci`` profile is derandomized.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import implementations
from conformance import spec
from conformance.expectations import Annotated, ExpectationsError, expectations_for
from conformance.provenance import provenance
from conformance.results import Record, document, write_atomic, write_results
from conformance.session import run_spec
from implementations.base import ALL_DTYPES, Implementation, NotInstalledError

REPRO_LIMIT = 10  # new divergences whose reproduction snippet is printed in full


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``gate``."""
    parser.add_argument("--impl", required=True, metavar="NAME",
                        help="the implementation to gate: a registered name or "
                             "package.module:attribute")
    parser.add_argument("--expectations", type=Path, metavar="FILE",
                        help="known divergences (default for a built-in: "
                             "expectations/<name>.yaml; none otherwise)")
    parser.add_argument("--profile", choices=("ci", "explore"), default="ci",
                        help="generated-case profile (default ci: derandomized)")
    parser.add_argument("--strict", action="store_true",
                        help="also fail when a listed divergence is fixed or matches nothing")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    parser.add_argument("--dtype", action="append", choices=ALL_DTYPES,
                        help="dtype to check (repeatable; default: every dtype the "
                             "implementation declares)")
    parser.add_argument("--device", action="append", metavar="DEVICE",
                        help="device to check (repeatable; default: cpu)")
    parser.add_argument("--seed", type=int, default=None, help="seed for generated cases")
    parser.add_argument("--spec", type=Path, default=None, help="spec file (default: built in)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="also write DIR/results.json")
    parser.add_argument("--no-properties", action="store_true",
                        help="spec cases only: skip the generated properties")
    parser.add_argument("--no-gradients", action="store_true", help="skip gradient checks")


def main(args: argparse.Namespace) -> int:
    """Run, judge against the expectations, report; return the exit status."""
    from conformance.cli import CliError

    impl = _load(args.impl, CliError)
    try:
        expectations = expectations_for(impl.name, args.expectations)
    except ExpectationsError as exc:
        raise CliError(str(exc)) from None
    spec_path = args.spec or spec.default_spec_path()
    dtypes = args.dtype or list(getattr(impl, "dtypes", ("float64",)))
    devices = args.device or _default_devices(impl)
    records = run_spec([impl], spec.load_spec(spec_path), dtypes, devices,
                       gradients=not args.no_gradients)
    notes: list[str] = []
    if not args.no_properties:
        records += _properties(impl, args, dtypes, devices, notes)
    annotated = expectations.annotate(records)
    status = annotated.exit_status(strict=args.strict)
    print_summary(annotated, impl.name, dtypes, devices, args.strict, notes, sys.stdout)
    if args.junit:
        write_atomic(args.junit, junit_xml(annotated, impl.name, strict=args.strict))
    if args.out:
        prov = provenance([impl], spec.spec_hash(spec_path), profile=args.profile,
                          seed=args.seed, dtypes=dtypes, devices=devices)
        write_results(args.out / "results.json", document(annotated.records, prov))
    return status


def _load(name: str, error: Callable[[str], Exception]) -> Implementation:
    try:
        impl = implementations.load(name)
    except NotInstalledError as exc:
        raise error(f"{name}: {exc}") from None
    reason = getattr(impl, "available", lambda: None)()
    if reason:
        raise error(f"{name} cannot run here: {reason}")
    return impl


def _default_devices(impl: Implementation) -> list[str]:
    declared = list(getattr(impl, "devices", ("cpu",)))
    return ["cpu"] if "cpu" in declared or not declared else declared[:1]


def _properties(impl: Implementation, args: argparse.Namespace, dtypes: Sequence[str],
                devices: Sequence[str], notes: list[str]) -> list[Record]:
    """The generated properties, when ``conformance.properties`` provides ``run_properties``."""
    try:
        run_properties = importlib.import_module("conformance.properties").run_properties
    except (ImportError, AttributeError):
        notes.append("generated properties not run: conformance.properties.run_properties "
                     "is not available")
        return []
    records: list[Record] = []
    for dtype in dtypes:
        for device in devices:
            records += run_properties(impl, profile=args.profile, dtype=dtype, device=device,
                                      seed=args.seed)
    return records


# --- the readable summary ---------------------------------------------------------------------


def print_summary(annotated: Annotated, name: str, dtypes: Sequence[str],
                  devices: Sequence[str], strict: bool, notes: Sequence[str],
                  out: TextIO) -> None:
    """What the gate found, most important first: new divergences, then fixed, then counts."""
    verdicts = Counter(r.verdict for r in annotated.records)
    write = out.write
    write(f"gate {name} ({', '.join(dtypes)}; {', '.join(devices)}): "
          f"{len(annotated.records)} checks: {verdicts['conforms']} conform, "
          f"{len(annotated.new)} new divergences, {len(annotated.known)} known divergences, "
          f"{verdicts['unsupported']} unsupported\n")
    for note in notes:
        write(f"note: {note}\n")
    for i, record in enumerate(annotated.new):
        write(f"\nNEW DIVERGENCE {record.case} [{record.check}, {record.dtype}, "
              f"{record.device}]: {record.reason}\n")
        if record.exception:
            write(f"  raised {record.exception}\n")
        if record.location:
            write(f"  defined at {record.location}\n")
        if record.repro and i < REPRO_LIMIT:
            write("  reproduce with:\n" + _indent(record.repro, "    ") + "\n")
    if len(annotated.new) > REPRO_LIMIT:
        write(f"\n(reproduction snippets of the other {len(annotated.new) - REPRO_LIMIT} are "
              "in --junit and --out)\n")
    _print_entries(annotated, strict, write)
    _print_verdict(annotated, strict, write)


def _print_entries(annotated: Annotated, strict: bool, write: Callable[[str], Any]) -> None:
    if annotated.known:
        per_entry = Counter(entry.location for _, entry in annotated.known)
        write(f"\nknown divergences: {len(annotated.known)} checks, covered by "
              f"{len(per_entry)} entries\n")
    if annotated.not_run:
        write(f"\n{len(annotated.not_run)} entries select only checks this run left out "
              "(dtype, device, gradients or properties); not judged\n")
    level = "error" if strict else "warning"
    for entry in annotated.fixed:
        write(f"\nFIXED ({level}): {entry.describe()}\n  every check it selects conforms now; "
              "remove the entry\n")
    for entry in annotated.unmatched:
        write(f"\nUNMATCHED ({level}): {entry.describe()}\n  it selects no check that ran; "
              "fix or remove the selector\n")


def _print_verdict(annotated: Annotated, strict: bool, write: Callable[[str], Any]) -> None:
    if annotated.new:
        write(f"\nFAIL: {len(annotated.new)} new divergences; fix them, or list them with a "
              "reason in the expectations file\n")
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
                                    type="divergence")
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
