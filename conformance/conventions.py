"""Named conventions: which legitimate alternative to torch's outcome an implementation follows.

At some edges frameworks differ without either being wrong: the mean over nothing is NaN in
torch, 0 in Keras and -0 in optax; a negative label raises in torch and wraps in optax; int32
class indices are refused by torch and accepted by TensorFlow. The spec names these alternatives
per case (``conventions`` in ``spec/cross_entropy.yaml``, each name documented once in its
top-level glossary), and a divergence whose outcome matches one is reported as *following* it,
the mildest severity, instead of as a wrong value or an accepted invalid input.

``convention_of`` is the one matching rule: exact for values (shape, NaN and the sign of zero
included; to the quoted precision when the convention gives ``decimals``), or the kind of
outcome (``raises``, ``value``, ``nan``, ``silent``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from conformance.case import Case, Convention
from implementations.base import Array

__all__ = ["convention_of", "glossary", "matches", "outcome_kind"]


def convention_of(case: Case, check: str, actual: Array | None, raised: bool) -> str | None:
    """The name of the first convention of ``case`` on ``check`` that the outcome matches.

    ``raised``: the implementation raised (``actual`` is then ignored); otherwise ``actual`` is
    what it returned (the loss, or the gradient for the ``gradient`` check). ``None`` when the
    outcome matches no named convention (or nothing came back to compare).
    """
    for convention in case.conventions:
        if check in convention.checks and matches(convention, actual, raised):
            return convention.name
    return None


def matches(convention: Convention, actual: Array | None, raised: bool) -> bool:
    """Whether one outcome is the one ``convention`` names."""
    if raised:
        return convention.outcome == "raises"
    if actual is None:
        return False
    try:
        returned = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if convention.outcome is not None:
        return convention.outcome in ("value", outcome_kind(returned))
    assert convention.value is not None  # the loader sets exactly one of value and outcome
    return _same_value(returned, convention.value, convention.decimals)


def outcome_kind(actual: Array) -> str:
    """``silent`` for an array of finite numbers, else ``nan`` (as the invalid check says)."""
    return "silent" if bool(np.all(np.isfinite(actual))) else "nan"


def _same_value(actual: Array, value: Array, decimals: int | None) -> bool:
    """Same shape and same NaNs; the rest equal with the same sign (exact), or each within half
    a unit of the last quoted decimal (infinities equal)."""
    if actual.shape != value.shape or not np.array_equal(np.isnan(actual), np.isnan(value)):
        return False
    a, v = actual[~np.isnan(actual)], value[~np.isnan(value)]
    if decimals is None:
        return bool(np.array_equal(a, v) and np.array_equal(np.signbit(a), np.signbit(v)))
    finite = np.isfinite(v)
    if not np.array_equal(a[~finite], v[~finite]):
        return False
    return bool(np.all(np.abs(a[finite] - v[finite]) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9)))


def glossary(cases: Iterable[Case]) -> dict[str, str]:
    """Every convention the cases name, with its documentation, sorted by name."""
    return dict(sorted({c.name: c.note for case in cases for c in case.conventions}.items()))
