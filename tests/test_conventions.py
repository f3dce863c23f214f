"""Named conventions: each one matches the outcome it names and no other; torch's own outcome
follows none; every name is declared once, documented and used."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from conformance.case import Case, Convention
from conformance.conventions import convention_of, glossary
from conformance.spec import SpecError, default_spec_path, load_spec
from implementations import reference as ref

CASES = load_spec()
NAMED = [(case, c) for case in CASES for c in case.conventions]
RAW_GLOSSARY: dict[str, str] = yaml.safe_load(
    default_spec_path().read_text(encoding="utf-8"))["conventions"]


def _id(pair: tuple[Case, Convention]) -> str:
    return f"{pair[0].id}:{pair[1].name}"


def _outcome_of(convention: Convention) -> tuple[np.ndarray | None, bool]:
    """A purpose-built outcome that is exactly what ``convention`` names."""
    if convention.outcome == "raises":
        return None, True
    if convention.outcome == "nan":
        return np.array(np.nan), False
    if convention.outcome in ("silent", "value"):
        return np.array(1.25), False
    assert convention.value is not None
    if convention.decimals is None:
        return convention.value.copy(), False
    return convention.value + 0.4 * 10.0 ** -convention.decimals, False  # rounds to the quote


def _torch_outcome(case: Case, check: str) -> tuple[np.ndarray | None, bool]:
    """What torch (the spec) does on ``check`` of ``case``: the reference's loss, or a raise."""
    if check == "invalid" or (check == "gradient" and case.expect.gradient_error):
        return None, True
    value, grad, _ = ref.evaluate(case.input, case.target, **case.kwargs())
    return (grad if check == "gradient" else value), False


@pytest.mark.parametrize("pair", NAMED, ids=_id)
def test_each_convention_matches_its_own_outcome(pair: tuple[Case, Convention]) -> None:
    case, convention = pair
    actual, raised = _outcome_of(convention)
    for check in convention.checks:
        assert convention_of(case, check, actual, raised) == convention.name, (case.id, check)


@pytest.mark.parametrize("pair", NAMED, ids=_id)
def test_no_convention_of_a_case_is_torchs_own_outcome(pair: tuple[Case, Convention]) -> None:
    case, convention = pair
    for check in convention.checks:
        actual, raised = _torch_outcome(case, check)
        assert convention_of(case, check, actual, raised) is None, (case.id, check)


@pytest.mark.parametrize("pair", [p for p in NAMED if p[1].value is not None], ids=_id)
def test_a_value_convention_rejects_near_misses(pair: tuple[Case, Convention]) -> None:
    """Off by one quoted unit, another shape, NaN for a number, a raise: not this convention."""
    case, convention = pair
    assert convention.value is not None
    check = convention.checks[0]
    step = 10.0 ** -(convention.decimals if convention.decimals is not None else 6)
    with np.errstate(invalid="ignore"):
        misses = [convention.value + 1.5 * step, np.append(convention.value, 0.0),
                  np.full_like(convention.value, 7.0)]
    if not np.isnan(convention.value).any():
        misses.append(np.full_like(convention.value, np.nan))
    for miss in misses:
        if not np.array_equal(miss, convention.value, equal_nan=True):
            assert convention_of(case, check, miss, False) != convention.name, (case.id, miss)
    assert convention_of(case, check, None, True) != convention.name


def _case(name: str) -> Case:
    return next(case for case in CASES if case.id == name)


@pytest.mark.parametrize(("case_id", "actual", "raised", "expected"), [
    ("all-ignored-mean", np.array(0.0), False, "zero for an empty mean"),
    ("all-ignored-mean", np.array(-0.0), False, "negative zero for an empty mean"),
    ("all-ignored-mean", np.array(np.nan), False, None),  # torch's own
    ("all-ignored-mean", np.array(1e-300), False, None),
    ("all-ignored-mean", np.array([0.0]), False, None),  # a shape (1,) zero is not the scalar
    ("empty-batch-mean", np.zeros(0), False, "passes an empty batch through unreduced"),
    ("empty-batch-mean", np.array(0.0), False, "zero for an empty mean"),
    ("empty-batch-sum", np.array(0.0), False, None),  # torch's own
    ("seed-empty-prob-sum", np.array(0.0), False, "positive zero for an empty sum"),
    ("seed-empty-prob-sum", np.array(-0.0), False, None),
    ("one-class-none", np.zeros(4), False, "positive zero for a one-class row"),
    ("one-class-none", np.array([0.0, -0.0, 0.0, 0.0]), False, None),
    ("empty-classes-all-ignored-none", np.full(3, -np.inf), False,
     "-inf from an empty log-sum-exp"),
    ("empty-classes-all-ignored-none", np.full(3, np.inf), False, None),
    ("empty-classes-all-ignored-none", None, True, "rejects zero classes"),
    ("invalid-target-negative", np.array(1.382112298741186), False, "wraps negative labels"),
    ("invalid-target-negative", np.array(3.7154456320745197), False, "clamps labels into [0, C)"),
    ("invalid-target-negative", np.array(np.nan), False, "NaN for an out-of-range label"),
    ("invalid-target-negative", np.array(2.0), False, None),  # silent, but no named convention
    ("invalid-target-out-of-range", np.array(1.382112298741186), False,
     "clamps labels into [0, C)"),
    ("invalid-target-out-of-range", np.array(np.inf), False, None),
    ("invalid-class-target-int32", np.array(3.7154), False, "accepts int32 targets"),
    ("invalid-class-target-int32", np.array(np.nan), False, "accepts int32 targets"),
    ("invalid-class-target-float64", np.array(3.7154), False,
     "casts floating class indices to integers"),
    ("invalid-prob-smooth-above-one", np.array(1.7594194199669004), False,
     "applies smoothing outside [0, 1] as given"),
    ("invalid-prob-smooth-above-one", np.array(3.879715618702459), False,
     "clamps smoothing into [0, 1]"),
    ("smooth-negative", None, True, "rejects negative smoothing"),
    ("smooth-negative", np.array(3.0321122987411857), False,
     "applies smoothing outside [0, 1] as given"),
    ("target-uint8", None, True, "rejects uint8 targets"),
    ("unbatched-target-shape1-mean", None, True, "rejects a (1,) target for a (C,) input"),
])
def test_named_outcomes(case_id: str, actual: np.ndarray | None, raised: bool,
                        expected: str | None) -> None:
    assert convention_of(_case(case_id), "value" if not _case(case_id).invalid else "invalid",
                         actual, raised) == expected


def test_the_gradient_torchs_backward_refuses() -> None:
    """Raising on the gradient is torch's outcome; returning one follows the convention."""
    case = _case("unbatched-target-shape1-sum")
    assert case.expect.gradient_error == "shape-mismatch"
    grad = ref.evaluate(case.input, case.target, **case.kwargs())[1]
    assert convention_of(case, "gradient", grad, False) == \
        "grants the gradient torch's backward refuses"
    assert convention_of(case, "gradient", None, True) is None
    assert convention_of(case, "value", grad, False) is None  # only the gradient check


def test_checks_scope_a_convention() -> None:
    case = _case("all-ignored-mean")
    assert convention_of(case, "gradient", np.array(0.0), False) is None
    assert convention_of(case, "invalid", np.array(0.0), False) is None


def test_a_non_numeric_return_follows_nothing() -> None:
    assert convention_of(_case("invalid-class-target-int32"), "invalid",
                         np.array(["x"]), False) is None


def test_every_name_is_declared_once_documented_and_used() -> None:
    used = glossary(CASES)
    assert sorted(used) == sorted(RAW_GLOSSARY)
    for name, note in used.items():
        assert len(note.split()) >= 6, f"{name!r} is not documented: {note!r}"
        assert note == " ".join(RAW_GLOSSARY[name].split())
    lowered = [name.lower() for name in RAW_GLOSSARY]
    assert len(set(lowered)) == len(lowered), "two names differ only in case"


def test_names_in_a_case_are_unique_and_alternatives_exclusive() -> None:
    """No purpose-built outcome of one convention also matches another of the same case."""
    for case in CASES:
        names = [c.name for c in case.conventions]
        assert len(names) == len(set(names)), case.id
        for convention in case.conventions:
            actual, raised = _outcome_of(convention)
            for check in convention.checks:
                assert convention_of(case, check, actual, raised) == convention.name


# --- the loader's checks ----------------------------------------------------------------------

SPEC = """\
version: 1
conventions:
  zero for an empty mean: A mean over nothing is 0 (Keras, TF).
{extra}
cases:
  - id: all-ignored-mean
    source: edge case
    tags: []
    input: [[1.0, 2.0]]
    target: [0]
    ignore_index: 0
    expect: {{value: .nan}}
    conventions:
      - {convention}
"""


def _write(tmp_path: Path, convention: str, extra: str = "") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(convention=convention, extra=textwrap.indent(extra, "  ")),
                    encoding="utf-8")
    return path


def test_a_well_formed_convention_loads(tmp_path: Path) -> None:
    (case,) = load_spec(_write(tmp_path, "{name: zero for an empty mean, value: 0.0}"))
    (convention,) = case.conventions
    assert convention.checks == ("value",)
    assert convention.note == "A mean over nothing is 0 (Keras, TF)."
    assert convention_of(case, "value", np.array(0.0), False) == "zero for an empty mean"


@pytest.mark.parametrize(("convention", "extra", "line", "message"), [
    ("{name: one for an empty mean, value: 1.0}", "", 14, "not declared"),
    ("{name: zero for an empty mean, value: 0.0}", "unused one: Nobody names it.", 4,
     "no case names"),
    ("{name: zero for an empty mean, outcome: value}", "", 14, "not an alternative"),
    ("{name: zero for an empty mean, outcome: nan}", "", 14, "not an alternative"),
    ("{name: zero for an empty mean, value: 0.0, checks: [invalid]}", "", 14,
     "does not apply"),
    ("{name: zero for an empty mean, value: 0.0, outcome: raises}", "", 14, "valid under"),
    ("{name: zero for an empty mean}", "", 14, "valid under"),
    ("{name: zero for an empty mean, decimals: 2, outcome: raises}", "", 14, "dependen"),
])
def test_malformed_conventions_are_reported_at_their_line(
        tmp_path: Path, convention: str, extra: str, line: int, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, convention, extra))
    assert info.value.line == line, str(info.value)
    assert message in str(info.value), str(info.value)
