"""The accuracy comparison with torch (``conformance.baseline``): the figures of ``versus`` on
purpose-built arrays, and a run in which a purpose-built inaccurate implementation, within the
tolerance bound, becomes an accuracy finding while torch and the reference do not."""

from __future__ import annotations

import numpy as np
import pytest

from conformance import baseline
from conformance.baseline import LESS_ACCURATE_RATIO, LazyBaseline, Outputs, versus
from conformance.case import Case
from conformance.session import run_spec
from conformance.severity import severity_of
from conformance.vocabulary import Check, Outcome, Severity, Verdict
from implementations.reference import ReferenceImplementation
from tests.helpers.less_accurate import LseThenSubtract


def test_versus_is_normwise_against_torchs_floored_error() -> None:
    expected = np.array([1.0, 2.0, 3.0])
    allowed = np.full(3, 1e-3)
    torch_out = expected.copy()  # exact: its error is floored at half a spacing at 3.0
    actual = expected + np.array([1e-5, 2e-5, 0.0])
    vs = versus(actual, torch_out, expected, allowed, "float32")
    assert vs is not None
    half_spacing_at_3 = 2.0 ** -23  # float32 spacing in [2, 4) is 2**-22
    assert vs.ratio == pytest.approx(2e-5 / half_spacing_at_3)
    assert vs.used == pytest.approx(2e-2)
    assert vs.torch_used == 0.0
    assert vs.less_accurate
    worse_torch = expected + np.array([0.0, 0.0, 1e-6])
    vs = versus(actual, worse_torch, expected, allowed, "float32")
    assert vs is not None
    assert vs.ratio == pytest.approx(20.0)
    assert not vs.less_accurate


def test_versus_ignores_the_last_bits_of_tiny_elements() -> None:
    """16 spacings of a tiny element are far below the rounding of the output's largest."""
    expected = np.array([-1.0, 1e-6])
    actual = expected + np.array([0.0, 16 * float(np.spacing(np.float32(1e-6)))])
    vs = versus(actual, expected, expected, np.full(2, 1e-7), "float32")
    assert vs is not None
    assert vs.ratio < 1.0


def test_versus_as_accurate_as_torch_is_no_finding() -> None:
    expected = np.array([[0.25, -0.75]])
    out = expected + 3e-8
    vs = versus(out, out, expected, np.full(expected.shape, 1e-6), "float32")
    assert vs is not None
    assert vs.ratio <= 1.0
    assert not vs.less_accurate


def test_versus_leaves_out_what_the_bound_allows_to_be_zero() -> None:
    """A reference value within its own bound may come back as 0 (flush-to-zero): no figure."""
    expected, allowed = np.array([1e-39, 0.0]), np.array([1.2e-38, 1.2e-38])
    assert versus(np.zeros(2), expected, expected, allowed, "float32") is None
    assert versus(np.ones(1), None, np.ones(1), np.ones(1), "float32") is None


def _offset_cases() -> list[Case]:
    rng = np.random.default_rng(0)
    logits = 1e4 + rng.normal(size=(8, 5))
    return [Case.of(id=f"offset-{r}", input=logits, target=rng.integers(0, 5, size=8),
                 reduction=r) for r in ("mean", "sum", "none")]


@pytest.fixture(scope="module")
def outputs() -> Outputs:
    pytest.importorskip("torch")
    return baseline.compute(_offset_cases(), ["float32", "float64"], ["cpu"], timeout=120)


def test_torch_outputs_are_computed_in_a_worker(outputs: Outputs,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert outputs.version
    assert set(outputs.found) == {(c.id, d, "cpu") for c in _offset_cases()
                                  for d in ("float32", "float64")}
    monkeypatch.setattr(baseline, "_MEMO", {})  # the lazy one computes its own, in its worker
    lazy = LazyBaseline(timeout=120)
    try:
        case = _offset_cases()[2]
        got, ahead = lazy.output(case, "float32", "cpu"), outputs.output(case, "float32", "cpu")
        assert got is not None
        assert ahead is not None
        assert ahead.grad is not None
        np.testing.assert_array_equal(got.value, ahead.value)
        np.testing.assert_array_equal(got.grad, ahead.grad)
    finally:
        lazy.close()


def test_a_qualified_device_is_compared_with_torch_on_its_host(outputs: Outputs) -> None:
    """``cpu (Triton interpreter)`` names how the code runs on the CPU: torch, which has no
    such device, is run on the host device, ``cpu``, and its outputs are keyed by the name."""
    label, case = "cpu (Triton interpreter)", _offset_cases()[0]
    qualified = baseline.compute([case], ["float32"], [label], timeout=120)
    assert set(qualified.found) == {(case.id, "float32", label)}
    got, on_host = qualified.output(case, "float32", label), outputs.output(case, "float32", "cpu")
    assert got is not None
    assert on_host is not None
    np.testing.assert_array_equal(got.value, on_host.value)


def test_the_process_keeps_torchs_outputs_by_the_calls_arguments(
        outputs: Outputs, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second run in the process starts no torch worker for the calls it has seen; a case
    with a seen id but other arguments is a new call."""
    cases = _offset_cases()
    started: list[object] = []
    real_start = baseline._start
    monkeypatch.setattr(baseline, "_start", lambda timeout: started.append(timeout) or
                        real_start(timeout))
    again = baseline.compute(cases, ["float32", "float64"], ["cpu"], timeout=120)
    assert started == [], "torch started again for calls the process had seen"
    assert again.version == outputs.version
    assert set(again.found) == set(outputs.found)
    for key, out in outputs.found.items():
        np.testing.assert_array_equal(again.found[key].value, out.value)
        np.testing.assert_array_equal(again.found[key].grad, out.grad)
    lazy = LazyBaseline(timeout=120)
    assert lazy.output(cases[0], "float64", "cpu") is not None
    assert started == [], "the lazy baseline started torch for a call the process had seen"
    other = Case.of(id=cases[0].id, input=cases[0].input * 2.0, target=cases[0].target,
                 reduction=cases[0].reduction)
    moved = baseline.compute([other], ["float64"], ["cpu"], timeout=120)
    assert started == [120], "a seen id with other arguments must be asked of torch"
    key = (other.id, "float64", "cpu")
    assert moved.found[key].value is not None
    assert outputs.found[key].value is not None
    assert not np.array_equal(moved.found[key].value, outputs.found[key].value)


def test_an_inaccurate_implementation_within_the_bound_is_an_accuracy_finding(
        outputs: Outputs) -> None:
    records = run_spec([LseThenSubtract()], _offset_cases(), ["float32"], ["cpu"],
                       gradients=False, baseline=outputs)
    values = [r for r in records if r.check == Check.VALUE]
    assert len(values) == 3
    for record in values:
        assert record.error is not None
        assert record.error["ok"]
        assert record.outcome == Outcome.LESS_ACCURATE, record.reason
        assert record.verdict == Verdict.DIVERGES
        assert severity_of(record) == Severity.ACCURACY
        assert record.error["vs_torch"] >= LESS_ACCURATE_RATIO
        assert "times torch's own error" in (record.reason or "")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_and_the_reference_are_no_accuracy_finding(outputs: Outputs, dtype: str) -> None:
    from implementations.torch_native import TorchImplementation

    impls = [TorchImplementation()] + ([ReferenceImplementation()] if dtype == "float64" else [])
    records = run_spec(impls, _offset_cases(), [dtype], ["cpu"], baseline=outputs)
    compared = [r for r in records if r.check in ("value", "gradient")]
    assert len(compared) == 6 * len(impls)
    for record in compared:
        assert record.verdict == Verdict.CONFORMS, record.reason
        assert record.error is not None
        assert "vs_torch" in record.error
