"""One conformance run: the only place that loads implementations and runs their checks.

``run(names, plan)`` runs every spec case (and, with ``plan.profile``, the cases of a t-wise
covering array of the structural space the implementation supports, ``conformance.coverage``,
then the generated properties) on each implementation in every dtype and device of the plan.
Each implementation is one *job*: it loads the implementation in a worker process of its own
(``conformance.isolation``), so a crash, a hang or a write into its inputs costs only its own
records. With ``jobs > 1`` the jobs run side by side in spawned processes; the records come back
in the order the names were given, and each job is deterministic on its own, so the merged
result does not depend on ``jobs``.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import implementations
from conformance import coverage
from conformance.baseline import AHEAD_LIMIT, LazyBaseline, Outputs
from conformance.baseline import NAME as BASELINE
from conformance.baseline import compute as compute_baseline
from conformance.case import Case
from conformance.context import CallTally
from conformance.expectations import file_stem
from conformance.isolation import DEFAULT_TIMEOUT, Crashed, Fault, isolate, loaded_as
from conformance.limits import Limits
from conformance.results import Record
from conformance.runner import Runner, run_checks
from conformance.vocabulary import Check, Origin, Outcome, Verdict
from implementations.base import (
    ALL_DTYPES,
    Implementation,
    NotInstalledError,
    UnknownImplementationError,
    available_reason,
    dtypes_of,
    unsupported_reason,
)

__all__ = ["Described", "ImplResult", "Plan", "Selection", "Skipped", "check_names",
           "default_jobs", "run", "run_spec", "select", "with_baseline"]

#: ``progress(implementation, verdict, check)`` after every record.
Progress = Callable[[str, str, str], None]


def default_jobs() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)


@dataclass(frozen=True)
class Plan:
    """What every implementation of a run is checked on."""

    cases: tuple[Case, ...]
    dtypes: tuple[str, ...] = ("float64",)  # empty: every dtype the implementation declares
    devices: tuple[str, ...] = ("cpu",)
    gradients: bool = True
    profile: str | None = None  # generated properties in this profile; None: spec cases only
    seed: int | None = None
    timeout: float | None = DEFAULT_TIMEOUT  # seconds per call at most; None: no limit
    limits: Limits = field(default_factory=Limits)  # adaptive time limits, memory, breaker
    max_examples: int | None = None
    log_dir: str | None = None  # workers' output goes to <log_dir>/<name>.log; None: terminal
    versus_torch: bool = True  # compare accuracy with torch's own (conformance.baseline)
    baseline: Outputs | None = None  # torch's outputs, computed ahead by ``run``
    diagnose: bool = True  # give each finding its cause (conformance.diagnosis)


@dataclass(frozen=True)
class Described:
    """What a loaded implementation said about itself (for provenance and listings)."""

    name: str
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]
    version_info: dict[str, str] = field(default_factory=dict)
    gpus: tuple[str, ...] = ()

    def versions(self) -> dict[str, str]:
        """The frameworks' versions, as the implementation reported them."""
        return dict(self.version_info)

    def gpu_names(self) -> list[str]:
        """The GPUs the implementation's framework saw."""
        return list(self.gpus)


@dataclass
class ImplResult:
    """One job's result: the records, or why the implementation could not run."""

    requested: str
    records: list[Record] = field(default_factory=list)
    skipped: str | None = None
    described: Described | None = None
    coverage: list[coverage.Table] = field(default_factory=list)  # per dtype and device


# --- names ------------------------------------------------------------------------------------


def check_names(names: Sequence[str]) -> None:
    """Raise ``UnknownImplementationError`` for a name no registry or module provides, before
    any work (a ``module:attr`` is imported to check it; the current directory is importable
    for it, as for ``python -m``)."""
    known = set(implementations.known_names())  # plugins by entry point too, when named
    for name in names:
        if name in known:
            continue
        if ":" not in name:
            implementations.load(name)  # raises with the list of known names
        _import_module(name.partition(":")[0])


def _import_module(module: str) -> None:
    cwd = os.getcwd()
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if cwd not in sys.path and exc.name and module.startswith(exc.name):
            sys.path.insert(0, cwd)
            _import_module(module)
            return
        raise UnknownImplementationError(
            f"no module named {module!r} (is its folder on PYTHONPATH, or the package "
            "installed?)") from None


# --- one job ----------------------------------------------------------------------------------


class _Events(Protocol):
    def put(self, item: tuple[str, str, str]) -> None: ...


def _job(name: str, plan: Plan, events: _Events | None) -> ImplResult:
    """Load ``name`` in its own worker and run the plan on it."""
    try:
        impl = isolate(name, timeout=plan.timeout, log=_log_path(plan, name),
                       limits=plan.limits)
    except NotInstalledError as exc:
        return ImplResult(name, skipped=str(exc))
    except Fault as exc:
        return ImplResult(name, records=[_load_fault(name, exc, plan)])
    try:
        described = Described(impl.name, tuple(impl.dtypes), tuple(impl.devices),
                              impl.versions(), tuple(impl.gpu_names()))
        reason = impl.available()
        if reason:
            return ImplResult(name, skipped=reason, described=described)
        tables: list[coverage.Table] = []
        records = _run_loaded(impl, plan, events, tables)
        return ImplResult(name, records, described=described, coverage=tables)
    except Exception as exc:  # the harness failed on this implementation: say so, go on
        fault = Crashed(None, f"the harness failed on it: {type(exc).__name__}: {exc}"[:300])
        return ImplResult(name, records=[_load_fault(name, fault, plan, "running")])
    finally:
        with contextlib.suppress(Exception):
            impl.close()


def _log_path(plan: Plan, name: str) -> str | None:
    if plan.log_dir is None:
        return None
    return os.path.join(plan.log_dir, f"{file_stem(name)}.log")


def _load_fault(name: str, exc: Fault, plan: Plan, doing: str = "loading") -> Record:
    return Record(case="load", impl=name, dtype=(plan.dtypes or ("float64",))[0],
                  device=plan.devices[0], check=Check.ROBUSTNESS, verdict=Verdict(exc.verdict),
                  outcome=Outcome(exc.outcome) if exc.outcome else None,
                  features=["robustness"], reason=f"{doing} the implementation: {exc}")


def _run_loaded(impl: Implementation, plan: Plan, events: _Events | None,
                tables: list[coverage.Table] | None = None) -> list[Record]:
    tally = CallTally()
    lazy = LazyBaseline(plan.timeout) if plan.versus_torch and plan.baseline is None and \
        impl.name != BASELINE else None
    runner = Runner(gradients=plan.gradients, tally=tally, baseline=plan.baseline or lazy)
    try:
        return _run_plan(impl, plan, runner, events, tables if tables is not None else [])
    finally:
        if lazy is not None:
            lazy.close()


def _run_plan(impl: Implementation, plan: Plan, runner: Runner, events: _Events | None,
              tables: list[coverage.Table]) -> list[Record]:
    tally = runner.tally
    records: list[Record] = []
    t = covering_strength(plan)
    for dtype in plan.dtypes or dtypes_of(impl):
        for device in plan.devices:
            context = runner.context(impl, dtype, device)
            found = [r for case in plan.cases for r in _announced(run_checks(context, case),
                                                                   events)]
            if t is not None:
                covered, table = _covering(impl, plan, runner, (dtype, device), t, found)
                found += _announced(covered, events)
                tables.append(table)
            if plan.profile:
                found += _announced(_properties(impl, plan, dtype, device, tally), events)
            records += found + tally.records(impl.name, dtype, device,
                                             load_as=loaded_as(impl))
    if plan.diagnose:
        _diagnose(impl, plan, records)
    return records


def _diagnose(impl: Implementation, plan: Plan, records: list[Record]) -> None:
    """Each finding's cause (``conformance.diagnosis``), per device, while ``impl`` is loaded."""
    from conformance.diagnosis import diagnose

    cases = {case.id: case for case in plan.cases}
    for device in plan.devices:
        diagnose(impl, [r for r in records if r.device == device], cases, device)


def covering_strength(plan: Plan) -> int | None:
    """The ``t`` of the plan's covering array: its profile's (``None``: no covering cases)."""
    if not plan.profile:
        return None
    from conformance.properties import PROFILES

    return PROFILES[plan.profile].t


def _covering(impl: Implementation, plan: Plan, runner: Runner, where: tuple[str, str], t: int,
              spec_records: list[Record]) -> tuple[list[Record], coverage.Table]:
    """The records of the covering cases of ``impl`` in one dtype and device (the t-tuples its
    spec cases left out), and its coverage table."""
    dtype, device = where
    unsupported = coverage.unsupported_rows(
        lambda case: unsupported_reason(impl, case.call(dtype, device)))
    cases = {case.id: case for case in plan.cases}
    spec_rows = [row for r in spec_records if _exercised(r) and r.case in cases
                 if (row := coverage.levels_of(cases[r.case])) is not None]
    context = replace(runner, origin=Origin.COVERING).context(impl, dtype, device)
    records: list[Record] = []
    ran: list[coverage.Row] = []
    for row in coverage.covering_rows(t, unsupported, spec_rows):
        found = run_checks(context, coverage.case_of(row))
        records += found
        if any(_exercised(r) for r in found):
            ran.append(row)
    table = coverage.table(impl.name, dtype, device, t, unsupported, spec_rows, ran)
    return records, table


def _exercised(record: Record) -> bool:
    """Whether the value check of a case ran (whatever it found)."""
    return record.check == Check.VALUE and record.verdict not in (Verdict.UNSUPPORTED,
                                                                  Verdict.NOT_RUN)


def _properties(impl: Implementation, plan: Plan, dtype: str, device: str,
                tally: CallTally) -> list[Record]:
    from conformance.properties import run_properties

    assert plan.profile is not None
    return run_properties(impl, profile=plan.profile, dtype=dtype, device=device,
                          seed=plan.seed, max_examples=plan.max_examples, tally=tally)


def _announced(records: list[Record], events: _Events | None) -> list[Record]:
    for record in records:
        if events is not None:
            events.put((record.impl, str(record.verdict), record.check))
    return records


def run_spec(impls: Iterable[Implementation], cases: Sequence[Case], dtypes: Sequence[str],
             devices: Sequence[str], *, gradients: bool = True, profile: str | None = None,
             seed: int | None = None, progress: Progress | None = None,
             baseline: Outputs | None = None) -> list[Record]:
    """The plan on implementation objects in this process, without isolation: for tests and
    for a plugin author's own test suite, where the object is at hand (``baseline``: torch's
    outputs to compare accuracy with, ``conformance.baseline.compute``; none by default).
    With ``profile``, the covering cases run too (their tables are not returned here)."""
    plan = Plan(tuple(cases), tuple(dtypes), tuple(devices), gradients, profile, seed,
                versus_torch=baseline is not None, baseline=baseline)
    return [r for impl in impls for r in _run_loaded(impl, plan, _Direct(progress))]


# --- many jobs --------------------------------------------------------------------------------


class _Direct:
    """Events of a job run in this process: straight to the progress callback."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress

    def put(self, item: tuple[str, str, str]) -> None:
        if self._progress is not None:
            self._progress(*item)


def run(names: Sequence[str], plan: Plan, *, jobs: int = 1, progress: Progress | None = None,
        done: Callable[[ImplResult], None] | None = None) -> list[ImplResult]:
    """Every implementation of ``names`` on ``plan``, ``jobs`` at a time, in ``names``' order
    (``done`` is called with each job's result as it finishes). With several, torch's outputs
    for the accuracy comparison are computed first, once; a single job asks torch for what it
    runs, as it goes. Interrupted (``KeyboardInterrupt``, or any error), it cancels the jobs
    not started and ends the running ones before it raises."""
    if len(names) > 1:
        plan = with_baseline(plan)
    if jobs <= 1 or len(names) <= 1:
        results = []
        for name in names:
            results.append(_job(name, plan, _Direct(progress)))
            if done is not None:
                done(results[-1])
        return results
    context = multiprocessing.get_context("spawn")
    # the jobs' events, each job process gets it as it starts; a put is done when it returns,
    # so every event of a job is in before its result
    queue = context.SimpleQueue()
    drain = threading.Thread(target=_drain, args=(queue, progress), daemon=True)
    drain.start()
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_job_process,
                               initargs=(queue,))
    try:
        futures = [pool.submit(_stoppable_job, name, plan) for name in names]
        if done is not None:
            for future in futures:
                future.add_done_callback(_reporting(done))
        results = [future.result() for future in futures]
    except BaseException:  # Ctrl-C, SIGTERM (``conformance.cli``), or a job's own error
        _stop(pool)
        raise
    pool.shutdown()
    queue.put(None)
    drain.join()
    queue.close()
    return results


def _reporting(done: Callable[[ImplResult], None]) -> Callable[[Future[ImplResult]], None]:
    def report(future: Future[ImplResult]) -> None:
        if not future.cancelled() and future.exception() is None and \
                future.result().skipped != STOPPED:
            done(future.result())
    return report


STOP_GRACE = 2.0  # seconds a job process has to close its workers when the run is stopped


class _Stopped(KeyboardInterrupt):
    """SIGTERM in a job process: the main process is stopping the run. A ``KeyboardInterrupt``,
    which Hypothesis passes on at once (a ``SystemExit`` it would replay as a failure)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _job_process(events: _Events) -> None:
    """A job process starts: its jobs' events go to ``events``. Signals: Ctrl-C reaches the
    whole process group, but only the main process decides (it stops the jobs); SIGTERM,
    which it sends, ends the job (``_leave``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _leave)
    _EVENTS.append(events)


_EVENTS: list[_Events] = []  # where this job process's events go
_IN_JOB: list[str] = []  # the job this process is running, if any
_STOPPED: list[int] = []  # the signal that stopped this process's jobs
STOPPED = "stopped: the run was interrupted"  # the result of a job that was stopped


def _leave(signum: int, frame: Any) -> None:
    """Kill the job's worker processes first (an implementation's call, or a framework being
    imported, would hold a graceful stop for seconds, and an orphan would run on), then unwind
    the job so that its pools close (``_stoppable_job``); between jobs, exit."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the unwinding must not be cut short
    _STOPPED.append(signum)
    for child in multiprocessing.active_children():
        child.kill()
    if _IN_JOB:
        raise _Stopped(128 + signum)
    sys.exit(128 + signum)


def _stoppable_job(name: str, plan: Plan) -> ImplResult:
    """``_job`` in a job process. Stopped, it returns ``STOPPED`` (nobody reads it) rather
    than exit on the spot, and so does every job the pool had already handed this process: it
    then ends the ordinary way, when the stopping pool sends it no more work, and its pools'
    semaphores are released (``os._exit`` would leave them to the resource tracker's
    warning)."""
    if _STOPPED:
        return ImplResult(name, skipped=STOPPED)
    _IN_JOB.append(name)
    try:
        return _job(name, plan, _EVENTS[0])
    except _Stopped:
        return ImplResult(name, skipped=STOPPED)
    finally:
        _IN_JOB.clear()


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the jobs not started, end the running ones (SIGTERM, then after ``STOP_GRACE``
    seconds SIGKILL), and wait for the pool's own thread, so nothing is left running."""
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError):
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(STOP_GRACE)
    pool.shutdown(wait=True)


def with_baseline(plan: Plan) -> Plan:
    """``plan`` with torch's outputs on its cases and the covering array's candidates
    (``conformance.baseline``), unless it has them, does not compare with torch, or its cases
    are too large to hold (``AHEAD_LIMIT``)."""
    if not plan.versus_torch or plan.baseline is not None or not plan.cases:
        return plan
    if sum(case.input.size for case in plan.cases) > AHEAD_LIMIT:
        return plan  # too much to hold and send to every job: each asks torch as it goes
    cases = list(plan.cases)
    if covering_strength(plan) is not None:  # any feasible row may be one job's covering case
        cases += coverage.candidate_cases()
    outputs = compute_baseline(cases, plan.dtypes or ALL_DTYPES, plan.devices,
                               timeout=plan.timeout)
    return replace(plan, baseline=outputs)


def _drain(queue: Any, progress: Progress | None) -> None:
    try:
        while (item := queue.get()) is not None:
            if progress is not None:
                progress(*item)
    except (EOFError, OSError, ValueError):  # the queue is gone: the run was stopped
        return


# --- in-process loading, for listings ---------------------------------------------------------


@dataclass
class Skipped:
    """An implementation that could not run, and why."""

    impl: str
    reason: str


@dataclass
class Selection:
    """Implementations loaded in this process, and those skipped with a reason."""

    loaded: list[Implementation] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def select(names: Iterable[str] | None) -> Selection:
    """Load ``names`` (default: every known implementation) here, for ``list``; missing
    frameworks are skipped. Runs never call an implementation here (see ``run``)."""
    selection = Selection()
    for name in names or implementations.known_names():
        try:
            impl = implementations.load(name)
        except NotInstalledError as exc:
            selection.skipped.append(Skipped(name, str(exc)))
            continue
        reason = available_reason(impl)
        if reason:
            selection.skipped.append(Skipped(name, reason))
        else:
            selection.loaded.append(impl)
    return selection

