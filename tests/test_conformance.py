"""The spec under pytest: one test per (case, implementation), ids are the case ids.

A divergence listed in the implementation's expectations file is an expected failure (one that
stops happening is reported as fixed by ``ce-conformance gate``); anything else that diverges
fails with the record's reason and repro snippet. An implementation that is not installed, or a
case it cannot express, skips with the reason.
"""

from __future__ import annotations

import functools

import pytest

import implementations
from conformance.expectations import default_expectations_path, load_expectations
from conformance.runner import Runner
from conformance.spec import load_spec
from implementations.base import Implementation, NotInstalledError

CASES = load_spec()
RUNNER = Runner()


@functools.cache
def _impl(name: str) -> Implementation | str:
    try:
        impl = implementations.load(name)
    except NotInstalledError as exc:
        return str(exc)
    return getattr(impl, "available", lambda: None)() or impl


@functools.cache
def _expectations(name: str):
    return load_expectations(default_expectations_path(name), name)


@pytest.mark.parametrize("name", list(implementations.BUILTIN))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, name):
    impl = _impl(name)
    if isinstance(impl, str):
        pytest.skip(impl)
    records = RUNNER.run_case(impl, case)
    _expectations(name).annotate(records)
    diverging = [r for r in records if r.verdict == "diverges"]
    unknown = [r for r in diverging if not r.expected_reason]
    assert not unknown, "\n\n".join(
        f"{r.check} of {case.id} on {name}: {r.reason}\n{r.repro}" for r in unknown)
    if diverging:
        pytest.xfail(f"known divergence: {diverging[0].expected_reason}")
    if all(r.verdict == "unsupported" for r in records):
        pytest.skip(records[0].reason or "unsupported")
