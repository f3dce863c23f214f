"""Severity (``conformance.severity``): each class is produced by a purpose-built wrong
implementation, run through the real checks, so a rule that stops firing fails here.

The wrong implementations are the reference with one flaw on calls with ``reduction="sum"``
(or on invalid input), run in-process on ``tests/helpers/mini_spec.yaml``; crashes and writes
into inputs need a worker process, so those come from ``tests/helpers/faulty.py`` through
``conformance.session``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from conformance import session
from conformance.properties import run_properties
from conformance.report.merge import schema
from conformance.results import Record, document
from conformance.runner import Runner
from conformance.severity import severity_of, worst
from conformance.spec import load_spec
from conformance.vocabulary import Outcome, Severity, Verdict
from implementations.reference import ReferenceImplementation

ROOT = Path(__file__).resolve().parent.parent
MINI_SPEC = Path(__file__).parent / "helpers" / "mini_spec.yaml"
SUMMED = {"mini-3x4-sum", "mini-weight-sum"}


class _Flawed:
    """The reference; ``_instead`` may answer (or raise) before it, ``_after`` change its loss."""

    name = "flawed"
    dtypes = ("float64",)

    def __init__(self) -> None:
        self._reference = ReferenceImplementation()

    def _instead(self, target: Any, n_classes: int, reduction: str) -> Any:
        return None

    def _after(self, loss: np.ndarray, reduction: str) -> np.ndarray:
        return loss

    def cross_entropy(self, input: Any, target: Any, weight: Any = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      label_smoothing: float = 0.0, *, dtype: str = "float64",
                      device: str = "cpu") -> Any:
        """The reference's loss, with the flaw."""
        n_classes = np.shape(input)[0 if np.ndim(input) == 1 else 1]
        answer = self._instead(target, n_classes, reduction)
        if answer is not None:
            return answer
        loss = self._reference.cross_entropy(input, target, weight, ignore_index, reduction,
                                             label_smoothing)
        return self._after(np.asarray(loss), reduction)


class WrongSum(_Flawed):
    """A summed loss 1.5 times too large: a silently wrong number."""

    def _after(self, loss: np.ndarray, reduction: str) -> np.ndarray:
        return loss * 1.5 if reduction == "sum" else loss


class NanSum(_Flawed):
    """NaN for a summed loss: a wrong NaN pattern."""

    def _after(self, loss: np.ndarray, reduction: str) -> np.ndarray:
        return loss * np.nan if reduction == "sum" else loss


class RejectsSum(_Flawed):
    """Raises on every summed loss, a valid call."""

    def _instead(self, target: Any, n_classes: int, reduction: str) -> Any:
        if reduction == "sum":
            raise ValueError("sum is not supported")
        return None


class AcceptsOutOfRange(_Flawed):
    """Returns a finite number for out-of-range targets instead of raising."""

    def _instead(self, target: Any, n_classes: int, reduction: str) -> Any:
        t = np.asarray(target)
        if t.dtype.kind in "iu" and t.size and (t.max() >= n_classes or t.min() < -100):
            return np.asarray(0.25)
        return None


def _records(impl: _Flawed, *, gradients: bool = False) -> list[Record]:
    runner = Runner(gradients=gradients)
    return runner.run(impl, load_spec(MINI_SPEC))  # type: ignore[arg-type]


def _by_case(records: Iterable[Record], check: str = "value") -> dict[str, Severity | None]:
    return {r.case: severity_of(r) for r in records if r.check == check}


def test_the_ranking_puts_silently_wrong_first() -> None:
    assert [s.rank for s in Severity] == list(range(len(Severity)))
    assert Severity.WRONG_ON_VALID.rank < Severity.REJECTS_VALID.rank  # wrong beats raises
    assert worst([None, Severity.CONVENTION, Severity.REJECTS_VALID]) is Severity.REJECTS_VALID
    assert worst([None]) is None


def test_the_reference_has_no_finding() -> None:
    assert {severity_of(r) for r in _records(_Flawed(), gradients=True)} == {None}


@pytest.mark.parametrize("impl", [WrongSum(), NanSum()], ids=["wrong-number", "wrong-nan"])
def test_a_wrong_value_on_valid_input_is_wrong_on_valid(impl: _Flawed) -> None:
    severities = _by_case(_records(impl))
    assert {case for case, s in severities.items() if s is not None} == SUMMED
    assert {severities[case] for case in SUMMED} == {Severity.WRONG_ON_VALID}


def test_raising_on_a_valid_call_is_rejects_valid() -> None:
    records = _records(RejectsSum())
    severities = _by_case(records)
    assert {severities[case] for case in SUMMED} == {Severity.REJECTS_VALID}
    assert [r.outcome for r in records if r.case in SUMMED] == [Outcome.RAISES] * 2
    invalid = _by_case(records, "invalid")  # raising on invalid input is right, not a finding
    assert invalid == {"mini-invalid-target": None}


def test_a_finite_number_for_invalid_input_is_accepts_invalid() -> None:
    records = _records(AcceptsOutOfRange())
    assert _by_case(records, "invalid") == {"mini-invalid-target": Severity.ACCEPTS_INVALID}
    assert set(_by_case(records).values()) == {None}


def test_properties_carry_the_severity_of_their_example() -> None:
    (invalid,) = run_properties(AcceptsOutOfRange(), only=["invalid-target-out-of-range"],  # type: ignore[arg-type]
                                max_examples=5)
    assert invalid.verdict == Verdict.DIVERGES, invalid
    assert severity_of(invalid) is Severity.ACCEPTS_INVALID
    (differential,) = run_properties(RejectsSum(), only=["differential"],  # type: ignore[arg-type]
                                     max_examples=40)
    assert differential.verdict == Verdict.DIVERGES, differential
    assert severity_of(differential) is Severity.REJECTS_VALID
    # a metamorphic relation whose call raises: rejects valid input, not "silently wrong"
    (split,) = run_properties(RejectsSum(), only=["batch-split"],  # type: ignore[arg-type]
                              max_examples=10)
    assert split.verdict == Verdict.DIVERGES, split
    assert split.outcome == "raises", split
    assert severity_of(split) is Severity.REJECTS_VALID


@pytest.fixture(autouse=False)
def _importable_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))


@pytest.mark.usefixtures("_importable_helpers")
def test_crashes_bad_returns_and_writes_into_inputs() -> None:
    plan = session.Plan(cases=tuple(load_spec(MINI_SPEC)), timeout=30.0, gradients=False)
    names = ["tests.helpers.faulty:" + n for n in ("Segfaults", "ReturnsString",
                                                   "WritesIntoInput")]
    segfaults, returns_string, writes = session.run(names, plan)
    for result in (segfaults, returns_string):
        severities = _by_case(result.records)
        assert {severities[case] for case in SUMMED} == {Severity.CRASH}, result.requested
        assert {s for c, s in severities.items() if c not in SUMMED} == {None}
    (inputs,) = [r for r in writes.records if r.check == "inputs"]
    assert severity_of(inputs) is Severity.WRITES_INPUT


def _record(**facts: Any) -> Record:
    base: dict[str, Any] = {"case": "c", "impl": "x", "dtype": "float64", "device": "cpu",
                            "check": "value", "verdict": Verdict.DIVERGES,
                            "outcome": Outcome.VALUE}
    return Record(**{**base, **facts})


def test_convention_and_accuracy_come_from_their_fields() -> None:
    empty = _record(convention="0 instead of NaN for an empty mean",
                    error={"mismatch": "NaN pattern differs"})
    assert severity_of(empty) is Severity.CONVENTION
    assert severity_of(_record(convention=None,
                               error={"mismatch": "NaN pattern differs"})) \
        is Severity.WRONG_ON_VALID
    loose = _record(verdict=Verdict.CONFORMS, outcome=Outcome.LESS_ACCURATE)
    assert severity_of(loose) is Severity.ACCURACY
    assert severity_of(_record(verdict=Verdict.CONFORMS)) is None
    assert severity_of(_record(verdict=Verdict.UNSUPPORTED, outcome=None)) is None
    assert severity_of(_record(check="property:invalid-negative-target",
                               outcome=Outcome.NAN)) is Severity.ACCEPTS_INVALID
    assert severity_of(_record(verdict=Verdict.TIMED_OUT, outcome=Outcome.TIMEOUT)) \
        is Severity.CRASH


def test_results_json_stores_the_severity_and_reads_it_back_derived() -> None:
    records = _records(WrongSum())
    doc = json.loads(json.dumps(document(records, {
        "suite_version": "0", "commit": None, "spec_sha256": "0", "created": "0",
        "python": "3", "platform": "p"})))
    jsonschema.Draft202012Validator(schema()).validate(doc)
    stored = {r["case"]: r["severity"] for r in doc["records"] if r["check"] == "value"}
    assert stored["mini-3x4-sum"] == "wrong on valid input"
    assert stored["mini-3x4-mean"] is None
    forged = dict(doc["records"][0], severity="convention")  # a stored severity is not trusted
    assert severity_of(Record.from_dict(forged)) == severity_of(records[0])
