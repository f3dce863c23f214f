"""The reference (and torch, when installed) reproduce every value the spec quotes.

Three kinds of expectation, each parametrized by case id:

* quoted values: the loss rounds to the value at the precision the source quotes it at;
* exact values (no ``decimals``): equal, NaN for NaN, and the same sign of zero;
* errors: the call raises.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import implementations
from conformance.case import Case
from conformance.spec import load_spec
from implementations.base import Array, Implementation

CASES = load_spec()
QUOTED = [c for c in CASES if c.expect.value is not None and c.expect.decimals is not None]
EXACT = [c for c in CASES if c.expect.value is not None and c.expect.decimals is None]
INVALID = [c for c in CASES if c.invalid]
SLACK = 1e-9  # float64 round-off on top of the half unit of the quoted precision


def _ids(cases: list[Case]) -> list[str]:
    return [case.id for case in cases]


@pytest.fixture(params=["reference", "torch"], scope="module")
def impl(request: pytest.FixtureRequest) -> Implementation:
    """The reference always; torch where it is installed."""
    if request.param == "torch":
        pytest.importorskip("torch")
    return implementations.load(request.param)


def _loss(impl: Implementation, case: Case) -> Array:
    return np.asarray(impl.cross_entropy(case.input, case.target, **case.kwargs()))


def _where(impl: Implementation, case: Case) -> str:
    """What failed, and how to run it again."""
    return (f"{impl.name} on {case.id} ({case.location}, source {case.source}); reproduce: "
            f"c = {{c.id: c for c in conformance.spec.load_spec()}}[{case.id!r}]; "
            f"implementations.load({impl.name!r}).cross_entropy(c.input, c.target, **c.kwargs())")


def _checked(impl: Implementation, case: Case, check: Callable[[Array, Array], bool],
             what: str) -> None:
    got, want = _loss(impl, case), case.expect.value
    assert want is not None
    assert got.shape == want.shape, f"shape {got.shape}, not {want.shape}: {_where(impl, case)}"
    assert check(got, want), f"got {got.tolist()}, {what} {want.tolist()}: {_where(impl, case)}"


@pytest.mark.parametrize("case", QUOTED, ids=_ids(QUOTED))
def test_rounds_to_quoted_value(impl: Implementation, case: Case) -> None:
    """|loss - quoted| is at most half a unit of the quoted precision."""
    assert case.expect.decimals is not None
    tolerance = 0.5 * 10.0 ** -case.expect.decimals + SLACK
    _checked(impl, case, lambda got, want: bool(np.all(np.abs(got - want) <= tolerance)),
             f"which does not round to the {case.expect.decimals}-decimal value")


def _identical(got: Array, want: Array) -> bool:
    """Equal values, NaN where NaN is expected, and the same sign of every zero."""
    same_sign = np.isnan(want) | (np.signbit(got) == np.signbit(want))
    return bool(np.array_equal(got, want, equal_nan=True) and np.all(same_sign))


@pytest.mark.parametrize("case", EXACT, ids=_ids(EXACT))
def test_matches_exact_value(impl: Implementation, case: Case) -> None:
    """The loss is exactly the expected value (NaN and signed zeros included)."""
    _checked(impl, case, _identical, "expected exactly")


@pytest.mark.parametrize("case", INVALID, ids=_ids(INVALID))
def test_invalid_input_raises(impl: Implementation, case: Case) -> None:
    """Every invalid case raises (any exception: the contract asks for one naming the problem)."""
    try:
        got = _loss(impl, case)
    except Exception:
        return
    pytest.fail(f"returned {got.tolist()} instead of raising for {case.expect.error}: "
                f"{_where(impl, case)}")
