"""The strategies: valid calls the reference accepts, bounds respected, bad bounds refused."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from conformance import strategies as cst
from conformance.case import Case
from conformance.signature import value_traits
from implementations import reference as ref
from implementations.base import DEFAULT_IGNORE_INDEX, class_axis_of


def _draw(strategy: st.SearchStrategy[Any]) -> Any:
    """One example, drawn the way a test would (validation happens at the first draw)."""
    return find(strategy, lambda _: True, settings=settings(database=None))


FAST = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(cst.cases())
def test_cases_are_valid_calls(case: Case) -> None:
    _, grad = ref.value_and_grad(case.input, case.target, **case.kwargs())
    assert grad.shape == case.input.shape
    assert case.id == cst.case_id(case)
    assert case.id.startswith("gen-")


@FAST
@given(cst.calls(max_classes=3))
def test_calls_are_keyword_arguments(call: dict[str, Any]) -> None:
    ref.cross_entropy(**call)


@FAST
@given(st.data())
def test_shapes_respect_bounds(data: st.DataObject) -> None:
    lo = data.draw(st.integers(1, 4), label="min_classes")
    hi = data.draw(st.integers(lo, 40), label="max_classes")
    shape = data.draw(cst.shapes(min_classes=lo, max_classes=hi, max_batch=3, max_side=2,
                                 max_elements=200), label="shape")
    classes = shape[0] if len(shape) == 1 else shape[1]
    assert lo <= classes <= hi
    assert 1 <= len(shape) <= 5
    if len(shape) > 1:
        assert shape[0] <= 3
        assert all(side <= 2 for side in shape[2:])
        assert int(np.prod(shape)) <= 200


@pytest.mark.parametrize("kind", cst.INVALID_KINDS)
def test_invalid_cases_are_refused_by_the_reference(kind: str) -> None:
    @FAST
    @given(cst.invalid_cases(kind))
    def check(case: Case) -> None:
        assert case.expect.error == kind
        with pytest.raises((ValueError, TypeError, IndexError)):
            ref.cross_entropy(case.input, case.target, **case.kwargs())

    check()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"min_classes": 0}, "min_classes=0 must be at least 1"),
    ({"min_classes": 5, "max_classes": 2}, "must not exceed max_classes=2"),
    ({"max_extra_dims": 4}, "max_extra_dims=4 must be at most 3"),
    ({"min_batch": -1}, "min_batch=-1 must be at least 0"),
    ({"max_classes": 2.5}, "must be an integer"),
    ({"max_classes": 100, "max_elements": 10}, "max_elements=10 must be at least 100"),
])
def test_bad_bounds_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        _draw(cst.shapes(**kwargs))


def test_bad_kinds_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="kind="):
        _draw(cst.invalid_cases("nope"))
    with pytest.raises(InvalidArgument, match="kinds="):
        _draw(cst.logits((2, 3), kinds=("huge",)))
    with pytest.raises(InvalidArgument, match="interior="):
        _draw(cst.label_smoothings(interior=(1.5,)))
    with pytest.raises(InvalidArgument, match="reduction="):
        _draw(cst.cases(reduction="avg"))


def test_large_classes_are_reachable() -> None:
    @settings(max_examples=30, deadline=None, database=None, derandomize=True)
    @given(cst.shapes(min_classes=20000, max_classes=30000, max_elements=40000))
    def check(shape: tuple[int, ...]) -> None:
        classes = shape[0] if len(shape) == 1 else shape[1]
        assert classes >= 20000

    check()


def test_case_id_is_content_derived_and_sees_shapes() -> None:
    a = cst.make_case(np.zeros((0, 2)), np.zeros((0,), dtype=np.int64))
    b = cst.make_case(np.zeros((0, 3)), np.zeros((0,), dtype=np.int64))
    again = cst.make_case(np.zeros((0, 2)), np.zeros((0,), dtype=np.int64))
    assert a.id != b.id
    assert a.id == again.id


def _hostile_tally(n: int) -> Counter[str]:
    """What ``n`` derandomized draws of the ci-sized ``cases()`` hold (one count per case)."""
    seen: Counter[str] = Counter()

    @settings(max_examples=n, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(cst.cases(max_classes=5, max_batch=3, max_extra_dims=2, max_side=2,
                     max_elements=36))
    def tally(case: Case) -> None:
        found = set(value_traits(case.input, case.weight))
        seen.update(found | {"case"})
        # Hypothesis draws subnormal floats of its own, and -inf logits are a kind of old
        seen.update({"hostile"} if found - {"logits-neg-inf", "logits-subnormal"} else set())
        x = case.input
        if x.size and np.all(x == x.reshape(-1)[0]):
            seen["all-equal"] += 1
        if case.target_kind == "indices":
            ignored = np.asarray(case.target == DEFAULT_IGNORE_INDEX)
            pad = bool(ignored.any()) and case.ignore_index == DEFAULT_IGNORE_INDEX
            seen.update({"indices"} | ({f"pad-{case.reduction}",
                                         f"pad-weight-{case.weight is not None}",
                                         f"pad-smoothing-{case.label_smoothing > 0}"}
                                        if pad else set()))
            axis = class_axis_of(x.shape)
            rows = np.moveaxis(x, axis, -1).reshape(ignored.size, x.shape[axis])
            if pad and not np.isfinite(rows[ignored.reshape(-1)]).all():
                seen["non-finite-in-ignored-row"] += 1

    tally()
    return seen


def test_hostile_values_are_drawn_a_fraction_of_the_time() -> None:
    """-100 padding is common, with every reduction, with and without weights and smoothing;
    NaN, infinities, offsets, subnormals, equal logits and zero or negative weights all occur,
    in a minority of cases (the ci profile stays an ordinary search)."""
    seen = _hostile_tally(600)
    assert seen["pad-mean"] + seen["pad-sum"] + seen["pad-none"] >= 0.15 * seen["indices"], seen
    for wanted in ("pad-mean", "pad-sum", "pad-none", "pad-weight-True", "pad-weight-False",
                   "pad-smoothing-True", "pad-smoothing-False", "logits-nan", "logits-inf",
                   "logits-neg-inf", "logits-large", "logits-subnormal", "weight-zero",
                   "weight-negative", "all-equal", "non-finite-in-ignored-row"):
        assert seen[wanted] >= 1, (wanted, seen)
    assert seen["hostile"] <= 0.5 * seen["case"], seen


def _ids(strategy: st.SearchStrategy[Case], n: int = 40) -> list[str]:
    seen: list[str] = []

    @settings(max_examples=n, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(case: Case) -> None:
        seen.append(case.id)
    collect()
    return seen


def test_strategies_are_built_once_per_arguments() -> None:
    assert cst.cases(max_classes=4) is cst.cases(max_classes=4)
    assert cst.logits((2, 3)) is cst.logits((2, 3))
    assert cst.logits((2, 3)) is not cst.logits((3, 2))
    assert cst.ignore_indices(3) is not cst.ignore_indices(4)


def test_unhashable_arguments_build_a_fresh_strategy() -> None:
    strategy = cst.logits([2, 3])  # type: ignore[arg-type]
    assert strategy is not cst.logits([2, 3])  # type: ignore[arg-type]
    assert _draw(strategy).shape == (2, 3)


def test_sharing_strategy_objects_draws_the_same_examples() -> None:
    """The memo only saves building work: with every builder unwrapped (a fresh object on
    each call, as before), a derandomized search draws the very same cases."""
    shared = _ids(cst.cases(max_classes=5, max_elements=36))
    originals = {name: getattr(cst, name) for name in
                 ("_sizes", "_weighted", "_logit_elements", "_arrays", "shapes", "logits",
                  "ignore_indices", "class_targets", "probability_targets", "weights",
                  "label_smoothings", "reductions")}
    try:
        for name, memoized in originals.items():
            setattr(cst, name, memoized.__wrapped__)
        fresh = _ids(cst.cases.__wrapped__(max_classes=5, max_elements=36))
    finally:
        for name, memoized in originals.items():
            setattr(cst, name, memoized)
    assert shared == fresh
