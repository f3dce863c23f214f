"""The tolerance model: round-off constants, special values, and how the bound scales."""

from __future__ import annotations

import numpy as np
import pytest

from conformance import tolerance
from conformance.context import expected
from conformance.strategies import make_case
from implementations import reference as ref


@pytest.mark.parametrize(("dtype", "u"), [("float64", 2.0**-53), ("float32", 2.0**-24),
                                          ("float16", 2.0**-11), ("bfloat16", 2.0**-8)])
def test_unit_roundoff(dtype: str, u: float) -> None:
    assert tolerance.unit_roundoff(dtype) == u


@pytest.mark.parametrize(("value", "dtype", "spacing"), [
    (1.0, "float64", 2.0**-52), (1.0, "float32", 2.0**-23), (3.0, "float32", 2.0**-22),
    (1.0, "float16", 2.0**-10), (0.0, "float32", 2.0**-149)])
def test_ulp(value: float, dtype: str, spacing: float) -> None:
    assert float(tolerance.ulp(np.asarray(value), dtype)) == spacing


def test_nan_must_match_nan() -> None:
    assert tolerance.compare(np.nan, np.nan, 0.0, "float64").ok
    result = tolerance.compare(np.asarray(1.0), np.asarray(np.nan), 1.0, "float64")
    assert not result.ok
    assert result.mismatch is not None
    assert "NaN" in result.mismatch
    assert not tolerance.compare(np.nan, 1.0, 1.0, "float64").ok


def test_infinities_must_match_in_sign() -> None:
    assert tolerance.compare(np.inf, np.inf, 0.0, "float64").ok
    assert not tolerance.compare(-np.inf, np.inf, 0.0, "float64").ok
    assert not tolerance.compare(np.inf, 1.0, 1.0, "float64").ok
    assert not tolerance.compare(1.0, np.inf, 1.0, "float64").ok


def test_overflow_of_the_dtype_must_come_back_as_inf() -> None:
    assert tolerance.compare(np.inf, 1e300, 0.0, "float32").ok
    assert not tolerance.compare(3.0e38, 1e300, 1e38, "float32").ok
    assert tolerance.compare(np.inf, 3.4028235e38, 1e32, "float32").ok  # at the top: either


def test_shape_mismatch_fails() -> None:
    result = tolerance.compare(np.zeros(2), np.zeros(3), 1.0, "float64")
    assert not result.ok
    assert result.mismatch is not None


def _case(scale: float) -> tuple[np.ndarray, np.ndarray]:
    case = make_case(np.array([[scale, 0.0, -scale / 2]]), np.array([1]))
    exp = expected(case, "float32")
    return exp.value, exp.value_allowed


def test_one_ulp_in_float32_passes_and_1e_3_relative_fails() -> None:
    value, allowed = _case(2.0)
    v32 = np.float32(value)
    one_ulp = np.nextafter(v32, np.float32(np.inf))
    assert tolerance.compare(np.asarray(one_ulp), value, allowed, "float32").ok
    off = np.float32(value * (1 + 1e-3))
    assert not tolerance.compare(np.asarray(off), value, allowed, "float32").ok


def test_bound_grows_with_logit_magnitude() -> None:
    bounds = [float(_case(scale)[1]) for scale in (1.0, 100.0, 1e4)]
    assert bounds[0] < bounds[1] < bounds[2]


def test_comparison_reports_ulps() -> None:
    tight = 2 * tolerance.unit_roundoff("float64")  # the model's bound at scale 1: K u
    result = tolerance.compare(np.asarray(1.0 + 2.0**-52), np.asarray(1.0), tight, "float64")
    assert result.ok
    assert result.worst_ulp == pytest.approx(1.0)
    assert result.as_dict()["max_ulp"] == pytest.approx(1.0)
    assert result.used == pytest.approx(1.0)


def test_the_figures_come_from_one_element() -> None:
    """The largest absolute error is on element 0, the largest relative one on element 1, but
    element 1 uses more of its bound: every figure is element 1's."""
    expected = np.array([1000.0, 1e-3])
    actual = expected + np.array([1e-3, 1e-6])
    allowed = np.array([1e-2, 2e-6])
    result = tolerance.compare(actual, expected, allowed, "float64")
    assert result.ok
    assert result.used == pytest.approx(0.5)
    assert result.worst_abs == pytest.approx(1e-6)
    assert result.allowed_abs == pytest.approx(2e-6)
    assert result.worst_rel == pytest.approx(1e-3)
    assert result.worst_abs <= result.allowed_abs


def test_a_near_zero_loss_is_measured_at_the_problems_scale() -> None:
    """A loss of 5.07e-9 beside logits of 31 that float32 returns as 0 (torch does too) is a
    fraction of an ULP at the problem's scale, not 1e7 ULPs of 5e-9."""
    logits = np.array([[12.3, -5.2, 31.4]])
    value, grad, parts = ref.evaluate(logits, np.array([2]))
    allowed, _ = tolerance.bounds(parts, value, grad, "mean", "float32", logits.shape)
    result = tolerance.compare(np.asarray(0.0), value, allowed, "float32")
    assert result.ok
    assert result.worst_ulp < 1.0
