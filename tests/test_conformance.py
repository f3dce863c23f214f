"""The spec under pytest: one test per (case, implementation), ids are the case ids, for the
specification's own two columns: the reference and torch (torch is the spec, so the spec must
hold for it apart from its labelled numerical defects). Every other built-in is judged on the
same cases by its gate (``ce-conformance gate``, which CI runs on the main job's records), and
``tests/test_pytest_plugin.py`` tests the suite's pytest form for any implementation.

Which tests are expected to fail is decided at collection time, from the implementation's
expectations file: an entry that names cases (a ``case`` selector) and matches a stub record of
the case (its id, the implementation, float64 on cpu, the spec origin, each check the case can
produce and that check's features) marks the test ``xfail(strict=True)``. So a divergence that
is fixed makes the test XPASS and fail the run, as ``ce-conformance gate --strict`` would; so
does such an entry that predicts a divergence the run no longer has. An entry without a ``case``
selector (a whole class of checks: "every float64 check is off by float32 rounding") is judged
as the gate judges it: a divergence it lists passes, and whether the entry is stale is a
question about the whole run (``gate --strict``), not about one case. A divergence that no
entry lists fails with the record's reason and repro snippet. An implementation that is not
installed, or a case it cannot express, skips with the reason.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

import implementations
from conformance.case import Case
from conformance.expectations import Divergence, expectations_for
from conformance.features import features_of
from conformance.results import Record
from conformance.runner import Runner
from conformance.spec import load_spec
from implementations.base import Implementation, NotInstalledError

CASES = load_spec()
RUNNER = Runner()
DTYPE, DEVICE = "float64", "cpu"  # what Runner.run_case runs by default
SPEC_COLUMNS = ("reference", "torch")


class KnownDivergence(Exception):
    """Raised by a test whose divergences are all listed: the only failure its xfail accepts."""


def _stubs(case: Case, name: str) -> list[Record]:
    """The records a run of ``case`` on ``name`` can produce, diverging, as far as a selector
    can see them without running anything."""
    checks = ["invalid"] if case.invalid else ["value", "gradient"]
    return [Record(case=case.id, impl=name, dtype=DTYPE, device=DEVICE, check=check,
                   verdict="diverges", features=features_of(case, DTYPE, check),
                   location=case.location or None) for check in checks]


@functools.cache
def _entries(name: str) -> tuple[Divergence, ...]:
    return expectations_for(name).entries


def _predicted(case: Case, name: str) -> list[Divergence]:
    """The entries that name this case's checks (those with a ``case`` selector)."""
    stubs = _stubs(case, name)
    return [e for e in _entries(name)
            if "case" in e.select and any(e.matches(stub) for stub in stubs)]


def _params() -> list[Any]:
    params: list[Any] = []
    for name in SPEC_COLUMNS:
        for case in CASES:
            predicted = _predicted(case, name)
            marks = [pytest.mark.xfail(strict=True, raises=KnownDivergence,
                                       reason="; ".join(e.describe() for e in predicted))] \
                if predicted else []
            params.append(pytest.param(case, name, marks=marks, id=f"{case.id}-{name}"))
    return params


@functools.cache
def _impl(name: str) -> Implementation | str:
    try:
        impl = implementations.load(name)
    except NotInstalledError as exc:
        return str(exc)
    return getattr(impl, "available", lambda: None)() or impl


def _hint(case: Case, name: str) -> str:
    return (f"reproduce: conformance.runner.Runner().run_case(implementations.load({name!r}), "
            f"{{c.id: c for c in conformance.spec.load_spec()}}[{case.id!r}]) ({case.location})")


@pytest.mark.parametrize(("case", "name"), _params())
def test_case(case: Case, name: str) -> None:
    impl = _impl(name)
    if isinstance(impl, str):
        pytest.skip(impl)
    records = RUNNER.run_case(impl, case, DTYPE, DEVICE)
    ran = [r for r in records if r.verdict != "unsupported"]
    if not ran:
        pytest.skip(records[0].reason or "unsupported")
    diverging = [r for r in ran if r.verdict == "diverges"]
    entries = _entries(name)
    unknown = [r for r in diverging if not any(e.matches(r) for e in entries)]
    assert not unknown, "\n\n".join(
        f"{r.check} of {case.id} on {name} diverges, and expectations/{name}.yaml does not "
        f"list it: {r.reason}\n{r.repro}" for r in unknown)
    predicted = _predicted(case, name)
    stale = [e for e in predicted
             if any(e.matches(r) for r in ran) and not any(e.matches(r) for r in diverging)]
    assert not stale, (
        f"{case.id} on {name}: these entries list a divergence that is gone (fixed? remove the "
        f"entry or narrow its selector): {[e.describe() for e in stale]}; checks: "
        f"{[(r.check, r.verdict, r.reason) for r in records]}; {_hint(case, name)}")
    named = [r for r in diverging if any(e.matches(r) for e in predicted)]
    if named:
        raise KnownDivergence(f"{[(r.check, r.reason) for r in named]}")
    if predicted:
        pytest.skip(f"the checks that {[e.describe() for e in predicted]} list did not run: "
                    f"{[(r.check, r.reason) for r in records if r not in ran]}")
