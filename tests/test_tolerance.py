"""The tolerance model: round-off constants, special values, and how the bound scales."""

from __future__ import annotations

import numpy as np
import pytest

from conformance import tolerance
from conformance.runner import expected
from conformance.strategies import make_case


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
    result = tolerance.compare(np.asarray(1.0 + 2.0**-51), np.asarray(1.0), 1.0, "float64")
    assert result.ok
    assert result.max_ulp == pytest.approx(2.0)
    assert result.as_dict()["max_ulp"] == pytest.approx(2.0)
