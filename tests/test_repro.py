"""Repro snippets run on their own: a diverging record's ``repro`` is executed as ``__main__``
in a namespace of its own (``tests.helpers.snippets``: cwd and ``PYTHONPATH`` the repository
root, one fresh interpreter for the snippets of one implementation) and must run to the end
and show the divergence: the numbers printed under the implementation's label are the record's
``actual`` and differ from those under ``torch:`` (the reference's); where the implementation
(or, for invalid input, torch) raises, the output says so.

One case per (implementation, check, way of diverging), chosen from the known divergences in
``expectations/*.yaml`` and from ``tests.helpers.wrong_impl:WrongSum`` (a plugin loaded by
``module:attr``: its snippet must load it the same way). The records of one implementation
come from one worker process, as a run makes them, and its tests run on one xdist worker
(``xdist_group``, see ``tests/conftest.py``), so each framework starts twice per
implementation (worker and snippets), not twice per test.
"""

from __future__ import annotations

import functools
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conformance.case import Case
from conformance.isolation import isolate
from conformance.results import Record
from conformance.runner import Runner
from conformance.spec import load_spec
from implementations import reference as ref
from tests.helpers.snippets import Ran, run_snippets

pytestmark = pytest.mark.slow  # a worker and an interpreter per implementation (its framework)

ROOT = Path(__file__).resolve().parent.parent
CASES = {case.id: case for case in load_spec()}
TIMEOUT_S = 600  # a TensorFlow import alone can take tens of seconds on a loaded machine
WRONG_SUM = "tests.helpers.wrong_impl:WrongSum"
#: what each implementation's snippet imports (torch for the plain call of a value check)
FRAMEWORKS = {"tensorflow.nn": ("tensorflow",), "keras": ("keras", "tensorflow"),
              "jax.optax": ("jax", "optax"), WRONG_SUM: ()}

# (implementation, case id, check)
SNIPPETS: list[tuple[str, str, str]] = [
    ("tensorflow.nn", "seed-empty-prob-mean", "value"),
    ("tensorflow.nn", "unbatched-target-shape1-mean", "value"),
    ("tensorflow.nn", "prob-unnormalized-mean", "gradient"),
    ("tensorflow.nn", "invalid-class-target-int32", "invalid"),
    ("keras", "all-ignored-mean", "value"),
    ("keras", "empty-batch-mean", "value"),
    ("keras", "prob-unnormalized-sum", "gradient"),
    ("keras", "empty-classes-all-ignored-mean", "gradient"),
    ("keras", "invalid-2d-target-2d-input", "invalid"),
    ("jax.optax", "seed-empty-prob-mean", "value"),
    ("jax.optax", "invalid-target-out-of-range", "invalid"),
    (WRONG_SUM, "seed-3x4-sum", "value"),
]

NUMBER = re.compile(r"-?(?:\d+\.?\d*(?:e[+-]?\d+)?|nan|inf)")


def _params() -> list[Any]:
    return [pytest.param(name, case_id, check, id=f"{name}-{case_id}-{check}",
                         marks=pytest.mark.xdist_group(f"repro-{name}"))
            for name, case_id, check in SNIPPETS]


@functools.cache
def _records(name: str) -> dict[tuple[str, str], Record]:
    """Every record of ``name`` on its cases in ``SNIPPETS``, by (case id, check), from one
    worker process (as a run loads it: a plugin's snippet must load its module:attr)."""
    impl = isolate(name)
    try:
        return {(r.case, r.check): r for case_id in dict.fromkeys(
                    c for n, c, _ in SNIPPETS if n == name and c in CASES)
                for r in Runner().run_case(impl, CASES[case_id])}
    finally:
        impl.close()


def _diverging_record(name: str, case: Case, check: str) -> Record:
    record = _records(name).get((case.id, check))
    assert record is not None, f"run_case gave no {check} record for {case.id} on {name}"
    assert record.verdict == "diverges", (
        f"Runner().run_case(implementations.load({name!r}), {case.id!r}): the {check} check "
        f"no longer diverges ({record}); pick another known divergence for tests/test_repro.py")
    assert record.repro, f"{check} of {case.id} on {name} diverges without a repro: {record}"
    return record


@functools.cache
def _ran(name: str) -> dict[tuple[str, str], Ran]:
    """Every snippet of ``name``'s records in ``SNIPPETS``, run in one fresh interpreter."""
    keys = [(case_id, check) for n, case_id, check in SNIPPETS if n == name]
    records = _records(name)
    snippets = [(records[key].repro or "") if key in records else "" for key in keys]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return dict(zip(keys, run_snippets(snippets, cwd=ROOT, env=env, timeout=TIMEOUT_S),
                    strict=True))


def _numbers(text: str) -> list[float]:
    return [float(token) for token in NUMBER.findall(text)]


def _summary_values(summary: dict[str, Any] | None) -> list[float]:
    return [float(v) for v in (summary or {}).get("values", [])]


def _same(a: list[float], b: list[float]) -> bool:
    """Equal up to the 8 digits NumPy prints arrays with (8 decimals in fixed notation, 8
    significant ones in scientific), NaN equal to NaN."""
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-7, abs_tol=1e-8)
        for x, y in zip(a, b, strict=True))


LABEL = re.compile(r"^([\w.:-]+(?: \(plain\))?): ", re.MULTILINE)


def _segments(out: str) -> dict[str, str]:
    """What the snippet printed under each label (``keras: ...``, ``torch: ...``)."""
    marks = list(LABEL.finditer(out))
    ends = [m.start() for m in marks[1:]] + [len(out)]
    return {m.group(1): out[m.end():end] for m, end in zip(marks, ends, strict=True)}


def _shows_values(record: Record, case: Case, out: str, where: str) -> None:
    """Under its label, the implementation's result; under ``torch:``, torch's (which is the
    reference's, torch being the specification)."""
    value, grad = ref.value_and_grad(case.input, case.target, **case.kwargs())
    actual = _summary_values(record.actual)
    if record.check == "gradient":
        # (value, grad): the value agrees, the gradient is what differs
        actual = [float(v) for v in np.ravel(value)] + actual
        wanted = [float(v) for v in np.ravel(value)] + [float(v) for v in np.ravel(grad)]
    else:
        wanted = [float(v) for v in np.ravel(value)]
    segments = _segments(out)
    assert record.impl in segments, f"no line for the implementation: {where}"
    assert "torch" in segments, f"no line for torch: {where}"
    shown_impl, shown_ref = _numbers(segments[record.impl]), _numbers(segments["torch"])
    assert _same(shown_impl, actual), (
        f"the snippet printed {shown_impl} for the implementation, the record has {actual}: "
        f"{where}")
    assert _same(shown_ref, wanted), (
        f"the snippet printed {shown_ref} for torch, the reference computes {wanted}: {where}")
    assert not _same(shown_impl, shown_ref), (
        f"the snippet shows no divergence: both print {shown_impl}: {where}")


@pytest.mark.parametrize(("name", "case_id", "check"), _params())
def test_repro_snippet_runs_and_shows_the_divergence(name: str, case_id: str,
                                                     check: str) -> None:
    for module in FRAMEWORKS[name]:
        pytest.importorskip(module)
    if check != "gradient":
        pytest.importorskip("torch")  # the snippet ends with torch's own call
    assert case_id in CASES, f"{case_id!r} is not a case of spec/cross_entropy.yaml any more"
    case = CASES[case_id]
    record = _diverging_record(name, case, check)
    done = _ran(name)[(case_id, check)]
    out = done.stdout + done.stderr
    where = (f"{check} of {case_id} on {name}; rerun: python -c \"$(the record's repro)\" from "
             f"the repository root; snippet:\n{record.repro}\n--- output:\n{out[-2000:]}")
    assert done.status == 0, f"the snippet exited {done.status}: {where}"
    if record.outcome == "raises":
        kind = (record.exception or "").split(":")[0]
        assert kind, f"the record names no exception: {record}"
        assert kind in out, f"the output does not show the {kind}: {where}"
    elif check == "invalid":
        segments = _segments(done.stdout)
        assert segments.get("torch", "").startswith("raises "), (
            f"the output does not show torch raising: {where}")
        actual = _summary_values(record.actual)
        assert _same(_numbers(segments.get(record.impl, "")), actual), (
            f"the snippet does not print the implementation's value {actual}: {where}")
    else:
        _shows_values(record, case, done.stdout, where)


@pytest.mark.parametrize("check", ["value", "gradient"])
def test_a_qualified_device_runs_torchs_lines_on_its_host(check: str) -> None:
    """``cpu (Triton interpreter)`` names how a plugin runs on the CPU: the implementation's
    line passes the name, and torch's own lines, which could not take it, use the host."""
    from conformance import repro

    label = "cpu (Triton interpreter)"
    text = repro.snippet("liger-kernel", CASES["seed-3x4-sum"], "float32", label, check)
    impl_line, *rest = [line for line in text.splitlines() if "device=" in line]
    assert impl_line.startswith("show('liger-kernel'"), text
    assert f"device={label!r}" in impl_line, text
    assert not rest, f"torch's lines name a device torch does not have:\n{text}"
