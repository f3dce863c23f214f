"""The pytest plugin (entry point ``pytest11``): the conformance suite as ordinary pytest tests.

    python -m pytest --pyargs conformance.testsuite --ce-impl NAME [--ce-expectations FILE]
        [--ce-dtype D ...] [--ce-device D ...] [--ce-profile ci|explore|large] [--ce-strict]
        [--ce-timeout S] [--ce-timeout-factor X] [--ce-timeout-floor S] [--ce-max-faults K]
        [--ce-memory-limit LIMIT]

collects one test per (case, check, dtype, device) of the spec, with the case id in the test id,
and one per (generated property, dtype, device). So ``-k``, ``-x``, ``--lf``, ``-n auto``
(pytest-xdist), JUnit and IDE integration work as for any test suite.

* The implementation runs in a worker process of its own (``conformance.isolation``), started
  once per pytest process (per xdist worker), so a crash or a hang fails one test; the time
  limits, memory limit and circuit breaker of ``conformance.limits`` apply (a stopped
  implementation's remaining tests fail as not run).
* A divergence its expectations file lists is an xfail carrying the entry's reason (strict: it
  must really fail); with ``--ce-strict`` a listed divergence that no longer happens fails.
* A call the implementation cannot express is a skip with its reason.
* Values and gradients are also compared with torch's own error on the same call (torch in a
  worker of its own, when installed): 32 times torch's error or more is an accuracy finding
  (``conformance.baseline``), a failure like any other unless its expectations list it.
* A failure's message carries the reproduction snippet.
* The implementation and options can also come from ``CE_CONFORMANCE_IMPL`` and
  ``[tool.ce-conformance]`` in ``pyproject.toml`` (``conformance.config``).
* Hypothesis profiles ``ce-ci`` and ``ce-explore`` are registered; with ``--hypothesis-profile``
  the generated properties take their example count from the chosen profile.

The plugin is inert in test suites that do not collect ``conformance.testsuite``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from conformance import config as ce_config
from conformance.baseline import NAME as BASELINE
from conformance.baseline import LazyBaseline
from conformance.case import Case
from conformance.checks import discover
from conformance.expectations import FINDINGS, Expectations, expectations_for
from conformance.isolation import IsolatedImplementation, isolate
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
from conformance.properties import PROFILES, profile_cases, property_names, run_properties
from conformance.results import Record
from conformance.runner import Runner
from conformance.spec import default_spec_path, load_spec
from conformance.vocabulary import Verdict

_STATE = pytest.StashKey["_State"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``--ce-*`` options."""
    group = parser.getgroup("ce-conformance", "cross-entropy conformance (ce-conformance)")
    group.addoption("--ce-impl", metavar="NAME",
                    help="implementation to check: a registered name or package.module:attr")
    group.addoption("--ce-expectations", metavar="FILE", type=Path,
                    help="its known divergences (default for a built-in: expectations/NAME.yaml)")
    group.addoption("--ce-dtype", action="append", metavar="DTYPE",
                    help="dtype to check (repeatable; default: every dtype it declares)")
    group.addoption("--ce-device", action="append", metavar="DEVICE",
                    help="device to check (repeatable; default: cpu)")
    group.addoption("--ce-profile", choices=tuple(PROFILES), default=None,
                    help="generated-case profile (default: ci; large: LLM vocabularies in "
                         "float16/bfloat16/float32 and the spec's large cases)")
    group.addoption("--ce-strict", action="store_true", default=None,
                    help="fail when a listed divergence no longer happens")
    group.addoption("--ce-spec", metavar="FILE", type=Path, help="spec file (default: built in)")
    group.addoption("--ce-timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                    help="the most any call may take (default %(default)g; 0: no limit)")
    group.addoption("--ce-timeout-factor", type=float, default=TIMEOUT_FACTOR, metavar="X",
                    help="a call's limit: X times the reference's own time on it, at least "
                         "--ce-timeout-floor, at most --ce-timeout (default %(default)g; 0: "
                         "always --ce-timeout)")
    group.addoption("--ce-timeout-floor", type=float, default=TIMEOUT_FLOOR, metavar="SECONDS",
                    help="the least time limit of a call (default %(default)g)")
    group.addoption("--ce-max-faults", type=int, default=MAX_FAULTS, metavar="K",
                    help="after K consecutive crashes, timeouts or out-of-memory faults, the "
                         "remaining checks fail as not run (default %(default)s; 0: never)")
    group.addoption("--ce-memory-limit", default=None, metavar="LIMIT",
                    help="memory of the implementation's worker: a fraction of the machine's "
                         f"memory or bytes such as 8G (default {WORKER_MEMORY_FRACTION:g}; 0: "
                         "no limit)")
    group.addoption("--ce-no-properties", action="store_true",
                    help="spec cases only, no generated properties")


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers and the Hypothesis profiles."""
    config.addinivalue_line("markers", "ce_conformance: a check of ce-conformance's suite")
    for name, profile in PROFILES.items():
        hypothesis_settings.register_profile(
            f"ce-{name}", max_examples=profile.differential_examples,
            derandomize=profile.derandomize, deadline=None, database=None)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the implementation's worker."""
    state = config.stash.get(_STATE, None)
    if state is not None and state.impl is not None:
        state.impl.close()
    if state is not None and isinstance(state.runner.baseline, LazyBaseline):
        state.runner.baseline.close()


@dataclass
class _State:
    """What the suite checks, resolved once per pytest process."""

    settings: ce_config.Settings
    impl: IsolatedImplementation
    expectations: Expectations
    cases: list[Case]
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]
    properties: bool
    max_examples: int | None
    runner: Runner = field(default_factory=Runner)


def _state(config: pytest.Config) -> _State:
    state = config.stash.get(_STATE, None)
    if state is None:
        state = config.stash[_STATE] = _resolve(config)
    return state


def _resolve(config: pytest.Config) -> _State:
    try:
        chosen = ce_config.settings({
            "impl": config.getoption("ce_impl"), "expectations": config.getoption(
                "ce_expectations"), "dtypes": config.getoption("ce_dtype"),
            "devices": config.getoption("ce_device"), "profile": config.getoption("ce_profile"),
            "strict": config.getoption("ce_strict")}, start=config.invocation_params.dir)
    except ce_config.ConfigError as exc:
        raise pytest.UsageError(f"ce-conformance: {exc}") from None
    if not chosen.impl:
        raise pytest.UsageError(
            "ce-conformance: no implementation to check: pass --ce-impl NAME, set "
            f"{ce_config.ENV_IMPL}, or set impl in [tool.ce-conformance] of pyproject.toml")
    try:
        memory = config.getoption("ce_memory_limit")
        limits = Limits(timeout_factor=config.getoption("ce_timeout_factor"),
                        timeout_floor=config.getoption("ce_timeout_floor"),
                        max_faults=config.getoption("ce_max_faults"),
                        memory=default_memory() if memory is None else parse_memory(memory))
    except ValueError as exc:
        raise pytest.UsageError(f"ce-conformance: --ce-memory-limit: {exc}") from None
    try:
        impl = isolate(chosen.impl, timeout=config.getoption("ce_timeout") or None,
                       limits=limits)
    except Exception as exc:
        raise pytest.UsageError(f"ce-conformance: {chosen.impl}: {exc}") from None
    reason = impl.available()
    if reason:
        impl.close()
        raise pytest.UsageError(f"ce-conformance: {chosen.impl} cannot run here: {reason}")
    profile_given = config.getoption("hypothesis_profile", None) is not None
    versus = None if impl.name == BASELINE else LazyBaseline(config.getoption("ce_timeout") or None)
    return _State(
        settings=chosen, impl=impl,
        expectations=expectations_for(impl.name, chosen.expectations),
        cases=load_spec(config.getoption("ce_spec") or default_spec_path()) +
        profile_cases(chosen.profile)[0],
        dtypes=chosen.dtypes or PROFILES[chosen.profile].dtypes or impl.dtypes,
        devices=chosen.devices or ("cpu",),
        properties=not config.getoption("ce_no_properties"),
        max_examples=_profile_examples() if profile_given else None,
        runner=Runner(baseline=versus))


@dataclass(frozen=True)
class SpecItem:
    """One check of one spec case in one dtype and device."""

    case: Case
    check: str
    dtype: str
    device: str


@dataclass(frozen=True)
class PropertyItem:
    """One generated property in one dtype and device."""

    name: str
    dtype: str
    device: str


def _spec_items(state: _State) -> Iterator[Any]:
    for dtype in state.dtypes:
        for device in state.devices:
            context = state.runner.context(state.impl, dtype, device)
            for case in state.cases:
                for check in discover():
                    if check.applies(case, context):
                        yield pytest.param(SpecItem(case, check.name, dtype, device),
                                           id=f"{case.id}-{check.name}-{dtype}-{device}")


def _property_items(state: _State) -> Iterator[Any]:
    if not state.properties:
        return
    for dtype in state.dtypes:
        for device in state.devices:
            for name in property_names(state.settings.profile):
                yield pytest.param(PropertyItem(name, dtype, device),
                                   id=f"{name}-{dtype}-{device}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the suite's two test functions from the spec and the properties."""
    if "ce_spec_item" in metafunc.fixturenames:
        metafunc.parametrize("ce_spec_item", list(_spec_items(_state(metafunc.config))))
    if "ce_property_item" in metafunc.fixturenames:
        metafunc.parametrize("ce_property_item", list(_property_items(_state(metafunc.config))))


# --- running one item --------------------------------------------------------------------------


def check_spec_item(request: pytest.FixtureRequest, item: SpecItem) -> None:
    """Run one check of one case and turn its record into a pytest outcome."""
    state = _state(request.config)
    context = state.runner.context(state.impl, item.dtype, item.device)
    (check,) = [c for c in discover() if c.name == item.check]
    _judge(request, state, check.run(context, item.case))


def check_property_item(request: pytest.FixtureRequest, item: PropertyItem) -> None:
    """Run one generated property and turn its record into a pytest outcome."""
    state = _state(request.config)
    records = run_properties(state.impl, profile=state.settings.profile, dtype=item.dtype,
                             device=item.device, only=[item.name],
                             max_examples=state.max_examples)
    findings = [r for r in records if r.verdict in FINDINGS]
    if len(findings) <= 1:
        _judge(request, state, findings[0] if findings else records[0])
        return
    state.expectations.annotate(findings)  # one finding per distinct cause: judge them all
    new = [r for r in findings if not r.expected_reason]
    if not new:
        request.node.add_marker(pytest.mark.xfail(reason="known divergences: " + "; ".join(
            sorted({r.expected_reason or "" for r in findings})), strict=True))
    shown = new or findings
    pytest.fail(f"{len(shown)} {'new ' if new else ''}causes:\n\n" +
                "\n\n".join(map(_message, shown)), pytrace=False)


def _judge(request: pytest.FixtureRequest, state: _State, record: Record) -> None:
    annotated = state.expectations.annotate([record])
    if record.verdict == Verdict.UNSUPPORTED:
        pytest.skip(record.reason or "unsupported")
    if record.verdict == Verdict.NOT_RUN:  # the circuit breaker stopped it: no pass
        pytest.fail(f"{record.impl} not run on {record.case} [{record.check}]: "
                    f"{record.reason}", pytrace=False)
    if record.verdict in FINDINGS:
        if record.expected_reason:
            request.node.add_marker(pytest.mark.xfail(
                reason=f"known divergence: {record.expected_reason}", strict=True))
        pytest.fail(_message(record), pytrace=False)
    if state.settings.strict and annotated.fixed:
        pytest.fail(f"a listed divergence no longer happens (remove it): "
                    f"{annotated.fixed[0].describe()}", pytrace=False)


def _message(record: Record) -> str:
    lines = [f"{record.impl} {record.verdict} on {record.case} [{record.check}, {record.dtype}, "
             f"{record.device}]: {record.reason}"]
    if record.exception:
        lines.append(f"raised {record.exception}")
    if record.location:
        lines.append(f"defined at {record.location}")
    if record.repro:
        lines += ["reproduce with:", *("    " + line for line in record.repro.splitlines())]
    return "\n".join(lines)


def _profile_examples() -> int:
    """The example count of the Hypothesis profile in force (``--hypothesis-profile``)."""
    return int((hypothesis_settings.default or hypothesis_settings()).max_examples)
