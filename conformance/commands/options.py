"""Options that ``run`` and ``gate`` share, and the ``Plan`` they make of them."""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from conformance.case import Case
from conformance.data import packaged_path
from conformance.limits import (
    DEFAULT_TIMEOUT,
    MAX_FAULTS,
    TIMEOUT_FACTOR,
    TIMEOUT_FLOOR,
    WORKER_MEMORY_FRACTION,
    Limits,
    default_memory,
    parse_memory,
)
from conformance.properties import PROFILES
from conformance.results import Record
from conformance.session import Plan, check_names, default_jobs
from conformance.spec import spec_hash
from conformance.vocabulary import FAULT_VERDICTS, Outcome, Verdict
from implementations import registry
from implementations.base import ALL_DTYPES


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0 or math.isinf(value):  # NaN fails the comparison
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds; give seconds, "
                                         "or 0 for no limit")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; give a count, or 0 for never")
    return value


def _memory(text: str) -> str:
    try:
        parse_memory(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def limits_from(args: argparse.Namespace) -> Limits:
    """The ``Limits`` the options describe (``conformance.limits``)."""
    budget = getattr(args, "impl_budget", None)
    return Limits(timeout=args.timeout or None, timeout_factor=args.timeout_factor,
                  timeout_floor=args.timeout_floor, max_faults=args.max_faults,
                  memory=default_memory() if args.memory_limit is None else
                  parse_memory(args.memory_limit),
                  budget=budget or None)


def positive(text: str) -> int:
    """An integer of at least 1 (an ``argparse`` type)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def add_run_options(parser: argparse.ArgumentParser, *, default_dtypes: str) -> None:
    """dtypes, devices, profile, seed, spec, gradients, properties, jobs and time limit."""
    parser.add_argument("--dtype", action="append", choices=ALL_DTYPES,
                        help=f"dtype to run in (repeatable; default: {default_dtypes})")
    parser.add_argument("--device", action="append", metavar="DEVICE",
                        help="device to run on (repeatable; default: cpu; e.g. cuda)")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="ci",
                        help="generated-case profile: ci (derandomized, gated), explore "
                             "(random, larger) or large (LLM vocabularies, low precision, the "
                             "spec's large cases; sized from $CE_CONFORMANCE_MEMORY or a "
                             "quarter of the memory available)")
    parser.add_argument("--seed", type=int, default=None, help="seed for generated cases")
    parser.add_argument("--max-examples", type=positive, default=None, metavar="N",
                        help="examples per generated property (default: the profile's)")
    parser.add_argument("--spec", type=Path, default=None, help="spec file (default: built in)")
    parser.add_argument("--no-gradients", action="store_true", help="skip gradient checks")
    parser.add_argument("--no-properties", action="store_true",
                        help="run the spec cases only, not the generated properties")
    parser.add_argument("-j", "--jobs", type=positive, default=default_jobs(), metavar="N",
                        help="implementations run side by side, each in its own worker "
                             "(default: the cores available, %(default)s)")
    parser.add_argument("--show-output", action="store_true",
                        help="let the implementations' own output (framework logs, warnings) "
                             "reach the terminal; by default it goes to a log file per "
                             "implementation, named at the end")
    parser.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help="the most any call may take; a call past its limit is recorded as "
                             "timed-out and its worker restarted (default %(default)g; 0: no "
                             "limit at all)")
    parser.add_argument("--timeout-factor", type=_seconds, default=TIMEOUT_FACTOR,
                        metavar="X",
                        help="a call's limit is X times the reference's own time on it, at "
                             "least --timeout-floor (and a worker's first call 6 floors), at "
                             "most --timeout (default %(default)g; 0: every call gets "
                             "--timeout)")
    parser.add_argument("--timeout-floor", type=_seconds, default=TIMEOUT_FLOOR,
                        metavar="SECONDS",
                        help="the least time limit of a call (default %(default)g)")
    parser.add_argument("--max-faults", type=_count, default=MAX_FAULTS, metavar="K",
                        help="stop an implementation after K consecutive crashes, timeouts or "
                             "out-of-memory faults (or K workers in a row hung after a few "
                             "calls): its remaining checks are recorded not-run (default "
                             "%(default)s; 0: never stop)")
    parser.add_argument("--memory-limit", type=_memory, default=None, metavar="LIMIT",
                        help="memory per implementation worker: a fraction of the machine's "
                             f"memory or bytes (8G); past it a call is out-of-memory and the "
                             f"worker replaced (default {WORKER_MEMORY_FRACTION:g}, "
                             f"{default_memory() / 2**30:.1f} GiB here; 0: no limit)")
    parser.add_argument("--impl-budget", type=_seconds, default=None, metavar="SECONDS",
                        help="time budget per implementation: past it its remaining checks are "
                             "recorded not-run (default: none)")


def plan_from(args: argparse.Namespace, cases: Sequence[Case], *,
              default_dtypes: Sequence[str]) -> Plan:
    """The ``Plan`` the options describe (a profile's own dtypes when none is asked for)."""
    default_dtypes = PROFILES[args.profile].dtypes or default_dtypes
    return Plan(cases=tuple(cases), dtypes=tuple(args.dtype or default_dtypes),
                devices=tuple(args.device or ("cpu",)), gradients=not args.no_gradients,
                profile=None if args.no_properties else args.profile, seed=args.seed,
                timeout=args.timeout or None, limits=limits_from(args),
                max_examples=args.max_examples,
                log_dir=None if args.show_output else
                tempfile.mkdtemp(prefix="ce-conformance-logs-"))


def finish_logs(plan: Plan, records: Iterable[Record] | None) -> str | None:
    """Keep the folder of the implementations' own output only when a check faulted (crashed,
    hung, ran out of memory, or was stopped), and say where it is; else remove it."""
    if plan.log_dir is None:
        return None
    folder = Path(plan.log_dir)
    faulted = sorted({r.impl for r in records or () if r.verdict in FAULT_VERDICTS or
                      r.verdict == Verdict.NOT_RUN or r.outcome == Outcome.BAD_RETURN})
    written = [p.name for p in sorted(folder.glob("*.log")) if p.stat().st_size]
    if not faulted or not written:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return (f"{', '.join(faulted)} faulted; the implementations' own output (framework logs, "
            f"warnings, tracebacks) is kept in {folder}/ ({', '.join(written)})")


def session_names(requested: Sequence[str] | None) -> list[str]:
    """The implementations to run, checked before any work. Default: the main job's built-ins
    (``registry.names()``, every row but those with ``default=False``); an
    installed plugin joins only when named (``--impl``), so installing one changes no run."""
    names = list(dict.fromkeys(requested or registry.names()))
    check_names(names)
    return names


def profile_provenance(profile: str | None) -> dict[str, str]:
    """The hash of the profile's own spec file, for provenance, when it has one (``large``)."""
    name = PROFILES[profile].spec if profile in PROFILES else None
    if name is None:
        return {}
    return {"profile_spec": name,
            "profile_spec_sha256": spec_hash(packaged_path("spec", name))}
