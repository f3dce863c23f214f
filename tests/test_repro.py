"""Repro snippets run on their own: a diverging record's ``repro`` is executed in a fresh
interpreter (``sys.executable -c``, cwd and ``PYTHONPATH`` the repository root) and must exit 0
and show the divergence: the numbers the implementation prints are the record's ``actual`` and
differ from the reference's, which are the record's ``expected``; where the implementation (or,
for invalid input, the reference) raises, the output names the exception.

One case per (implementation, check, way of diverging), chosen from the known divergences in
``expectations/*.yaml`` and from ``tests.helpers.wrong_impl:WrongSum``. A snippet that does not
run on its own is a strict xfail naming the cause, so fixing ``conformance/repro.py`` turns it
into a failure until the mark goes.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import implementations
from conformance.case import Case
from conformance.results import Record
from conformance.runner import Runner
from conformance.spec import load_spec
from implementations import reference as ref

ROOT = Path(__file__).resolve().parent.parent
CASES = {case.id: case for case in load_spec()}
TIMEOUT_S = 240  # a TensorFlow import alone can take tens of seconds on a loaded machine
WRONG_SUM = "tests.helpers.wrong_impl:WrongSum"
#: what each implementation's snippet imports (torch for the plain call of a value check)
FRAMEWORKS = {"tensorflow.nn": ("tensorflow",), "keras": ("keras", "tensorflow"),
              "jax.optax": ("jax", "optax"), WRONG_SUM: ()}

IMPL_RAISES = ("the implementation raises on this valid call and the snippet calls it unguarded "
               "(print(impl.{call}(...)) is its first print): it exits 1 with the traceback "
               "instead of printing the exception next to the reference's value")
REFERENCE_RAISES = ("invalid input: the snippet calls the reference unguarded "
                    "(print(reference.cross_entropy(...))) and the reference raises, so it "
                    "exits 1 after the implementation's value and never reaches torch's call")
SHAPE_LOST = ("repro.literal writes the empty (0, 3) input as np.array([]) and its (0,) int64 "
              "target as np.array([]): the input becomes (0,), so the reference takes the "
              "(0,) target as probabilities and raises TypeError 'class-probability targets "
              "must be floating point, got int64'")
NOT_LOADABLE = ("the snippet loads implementations.load('wrong-sum') (the implementation's "
                "name) instead of 'tests.helpers.wrong_impl:WrongSum' (how it was loaded): "
                "UnknownImplementationError")

# (implementation, case id, check, xfail reason or None)
SNIPPETS: list[tuple[str, str, str, str | None]] = [
    ("tensorflow.nn", "seed-empty-prob-mean", "value", None),
    ("tensorflow.nn", "unbatched-target-shape1-mean", "value",
     IMPL_RAISES.format(call="cross_entropy")),
    ("tensorflow.nn", "prob-unnormalized-mean", "gradient", None),
    ("tensorflow.nn", "invalid-class-target-int32", "invalid", REFERENCE_RAISES),
    ("keras", "all-ignored-mean", "value", None),
    ("keras", "empty-batch-mean", "value", SHAPE_LOST),
    ("keras", "prob-unnormalized-sum", "gradient", None),
    ("keras", "empty-classes-all-ignored-mean", "gradient",
     IMPL_RAISES.format(call="value_and_grad")),
    ("keras", "invalid-2d-target-2d-input", "invalid", REFERENCE_RAISES),
    ("jax.optax", "seed-empty-prob-mean", "value", None),
    ("jax.optax", "unbatched-target-shape1-sum", "gradient",
     IMPL_RAISES.format(call="value_and_grad")),
    ("jax.optax", "invalid-target-out-of-range", "invalid", REFERENCE_RAISES),
    (WRONG_SUM, "seed-3x4-sum", "value", NOT_LOADABLE),
]

NUMBER = re.compile(r"-?(?:\d+\.?\d*(?:e[+-]?\d+)?|nan|inf)")


def _params() -> list[Any]:
    return [pytest.param(name, case_id, check, id=f"{name}-{case_id}-{check}",
                         marks=[pytest.mark.xfail(strict=True, raises=AssertionError,
                                                  reason=why)] if why else [])
            for name, case_id, check, why in SNIPPETS]


def _diverging_record(name: str, case: Case, check: str) -> Record:
    impl = implementations.load(name)
    records = {r.check: r for r in Runner().run_case(impl, case)}
    record = records.get(check)
    assert record is not None, f"run_case gave no {check} record for {case.id} on {name}"
    assert record.verdict == "diverges", (
        f"Runner().run_case(implementations.load({name!r}), {case.id!r}): the {check} check "
        f"no longer diverges ({record}); pick another known divergence for tests/test_repro.py")
    assert record.repro, f"{check} of {case.id} on {name} diverges without a repro: {record}"
    return record


def _run(snippet: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", snippet], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=TIMEOUT_S, check=False)


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


def _shows_values(record: Record, case: Case, out: str, where: str) -> None:
    """The first print is the implementation's result, the second the reference's."""
    value, grad = ref.value_and_grad(case.input, case.target, **case.kwargs())
    actual = _summary_values(record.actual)
    if record.check == "gradient":
        # (value, grad): the value agrees, the gradient is what differs
        actual = [float(v) for v in np.ravel(value)] + actual
        wanted = [float(v) for v in np.ravel(value)] + [float(v) for v in np.ravel(grad)]
    else:
        wanted = [float(v) for v in np.ravel(value)]
    numbers = _numbers(out)
    shown_impl, shown_ref = numbers[:len(actual)], numbers[len(actual):len(actual) + len(wanted)]
    assert _same(shown_impl, actual), (
        f"the snippet printed {shown_impl} for the implementation, the record has {actual}: "
        f"{where}")
    assert _same(shown_ref, wanted), (
        f"the snippet printed {shown_ref} for the reference, it computes {wanted}: {where}")
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
    done = _run(record.repro or "")
    out = done.stdout + done.stderr
    where = (f"{check} of {case_id} on {name}; rerun: python -c \"$(the record's repro)\" from "
             f"the repository root; snippet:\n{record.repro}\n--- output:\n{out[-2000:]}")
    assert done.returncode == 0, f"the snippet exited {done.returncode}: {where}"
    if record.outcome == "raises":
        kind = (record.exception or "").split(":")[0]
        assert kind, f"the record names no exception: {record}"
        assert kind in out, f"the output does not show the {kind}: {where}"
    elif check == "invalid":
        with pytest.raises(Exception) as raised:  # noqa: PT011 -- any exception; its name is shown
            ref.cross_entropy(case.input, case.target, **case.kwargs())
        assert raised.typename in done.stdout, (
            f"the output does not show the reference's {raised.typename}: {where}")
        actual = _summary_values(record.actual)
        assert _same(_numbers(done.stdout)[:len(actual)], actual), (
            f"the snippet does not print the implementation's value {actual}: {where}")
    else:
        _shows_values(record, case, done.stdout, where)
