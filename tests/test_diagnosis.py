"""``conformance.diagnosis``: one cause per bug, named by its trigger; lower precision as one
accuracy cause; and the verdict fixes that go with it (the sign of zero, torch's shared
defects). Each purpose-built implementation in ``tests/helpers/one_bug.py`` has one bug."""

from __future__ import annotations

import numpy as np
import pytest

from conformance import diagnosis
from conformance.baseline import Output, Outputs
from conformance.case import Case
from conformance.checks.value import CHECK as VALUE_CHECK
from conformance.report import divergences
from conformance.runner import Runner
from conformance.session import run_spec
from conformance.spec import load_spec
from conformance.vocabulary import Outcome, Severity, Verdict
from implementations.reference import ReferenceImplementation
from tests.helpers.one_bug import (
    AlwaysOff,
    ComputesInFloat32,
    EqualLogitsAndNegativeWeights,
    Float64GradientAndNaNSmoothing,
    LongSumDrift,
    ReturnsFloat32,
    SmoothingOverCMinus1,
    WeightedMeanOverN,
    WideResultsAndSmoothing,
)

#: A small slice of the spec that has smoothing, weights, probabilities, K-dim and padding.
CASES = ["seed-*", "ls-*", "weight-*", "kdim-*", "prob-*", "pad-*", "one-class-*"]


@pytest.fixture(scope="module")
def spec_cases() -> list[Case]:
    return load_spec(include=CASES)


def _causes(records: list) -> dict[Severity, set[str]]:
    found: dict[Severity, set[str]] = {}
    for group in divergences.group(records):
        found.setdefault(group.severity, set()).add(group.headline)
    return found


def test_one_smoothing_bug_is_one_cause_named_by_label_smoothing(spec_cases: list[Case]) -> None:
    records = run_spec([SmoothingOverCMinus1()], spec_cases, ["float64"], ["cpu"])
    wrong = [g for g in divergences.group(records) if g.severity is Severity.WRONG_ON_VALID]
    assert len(wrong) == 1, [g.headline for g in wrong]
    assert wrong[0].headline == "wrong with label_smoothing; correct without it"
    assert {"value", "gradient"} <= set(wrong[0].check.split(", "))
    assert len(wrong[0].records) > 10  # many symptoms, one cause
    assert wrong[0].minimal.case.startswith("seed-")  # the plainest example first


def test_the_weighted_means_divisor_is_named(spec_cases: list[Case]) -> None:
    records = run_spec([WeightedMeanOverN()], spec_cases, ["float64"], ["cpu"])
    headlines = _causes(records)[Severity.WRONG_ON_VALID]
    assert headlines == {"wrong when class weights ∧ reduction='mean' (its divisor: correct "
                         "with 'sum'); correct without any one of them"}


def test_float64_computed_in_float32_is_one_accuracy_cause(spec_cases: list[Case]) -> None:
    records = run_spec([ComputesInFloat32()], spec_cases, ["float64"], ["cpu"])
    causes = _causes(records)
    assert Severity.WRONG_ON_VALID not in causes
    (heading,) = causes[Severity.ACCURACY]
    assert heading.startswith("computes float64 in float32 (agrees with the reference to about")
    lowered = [r for r in records if r.outcome is Outcome.LOWER_PRECISION]
    assert lowered
    assert all(r.severity is Severity.ACCURACY for r in lowered)
    assert all(r.reason.startswith("within float32's bound") for r in lowered)  # type: ignore[union-attr]


def test_float32_returned_for_float64_is_the_same_accuracy_cause(spec_cases: list[Case]) -> None:
    """keras.float32's case: float32 arrays back for a float64 call are the lower precision
    it computes in, one accuracy cause, not a wrong value per check."""
    records = run_spec([ReturnsFloat32()], spec_cases, ["float64"], ["cpu"])
    causes = _causes(records)
    assert Severity.WRONG_ON_VALID not in causes, causes.get(Severity.WRONG_ON_VALID)
    (heading,) = causes[Severity.ACCURACY]
    assert heading.startswith("computes float64 in float32")
    assert any("returned float32" in (r.reason or "") for r in records
               if r.outcome is Outcome.LOWER_PRECISION)


def test_a_faithful_float64_implementation_is_not_called_lower_precision(
        spec_cases: list[Case]) -> None:
    records = run_spec([ReferenceImplementation()], spec_cases, ["float64"], ["cpu"])
    medians = diagnosis.precision(records)
    assert medians[("reference", "float64", "cpu")] > 45
    assert not any(r.outcome is Outcome.LOWER_PRECISION for r in records)


def test_reduce_finds_a_three_way_trigger_and_keeps_what_cannot_be_switched_off() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4))
    t = np.exp(rng.standard_normal((2, 3, 4)))
    case = Case.of("k", x, t / t.sum(axis=1, keepdims=True), weight=np.ones(3),
                   reduction="sum", label_smoothing=0.2)
    wrong = diagnosis.Symptom(Severity.WRONG_ON_VALID)

    def probe(c: Case, dtype: str, check: str) -> diagnosis.Symptom | None:
        needs = c.target_kind == "probabilities" and c.label_smoothing > 0 and c.input.ndim > 2
        return wrong if needs else None

    trigger, reduced, _dtype, check = diagnosis.reduce(
        case, "float64", "gradient", wrong, probe, ["float64"])
    assert trigger == ("k-dim", "label-smoothing", "probabilities")
    assert reduced.weight is None
    assert reduced.reduction == "mean"
    assert check == "value"
    assert diagnosis.heading(Severity.WRONG_ON_VALID, trigger) == (
        "wrong when a K-dim (N, C, d1, ...) input ∧ label_smoothing ∧ probability targets; "
        "correct without any one of them")
    # float16 only: the dtype cannot be switched off when the implementation has no float64
    trigger, *_ = diagnosis.reduce(case, "float16", "value", wrong, lambda c, d, k: wrong,
                                   ["float16"])
    assert "dtype-float16" in trigger


@pytest.mark.parametrize("condition", ["k-dim", "no-batch", "probabilities", "ignore-index",
                                       "empty", "logits-nan", "weight-negative", "one-class",
                                       "smoothing-ignored"])
def test_each_condition_switches_off(condition: str) -> None:
    rng = np.random.default_rng(1)
    cases = {
        "k-dim": Case.of("a", rng.standard_normal((2, 3, 2)), np.zeros((2, 2), dtype=np.int64)),
        "no-batch": Case.of("b", rng.standard_normal(3), np.array(1)),
        "probabilities": Case.of("c", rng.standard_normal((2, 3)), np.full((2, 3), 1 / 3)),
        "ignore-index": Case.of("d", rng.standard_normal((3, 3)), np.array([0, -100, 2])),
        "empty": Case.of("e", np.zeros((0, 3)), np.zeros(0, dtype=np.int64)),
        "logits-nan": Case.of("f", np.array([[np.nan, 1.0, 2.0]]), np.array([1])),
        "weight-negative": Case.of("g", rng.standard_normal((2, 3)), np.array([0, 1]),
                                   weight=np.array([1.0, -2.0, 1.0])),
        "one-class": Case.of("h", rng.standard_normal((2, 1, 3)),
                             np.zeros((2, 3), dtype=np.int64), weight=np.array([2.0])),
        "smoothing-ignored": Case.of("i", rng.standard_normal((2, 3)), np.array([0, 1]),
                                     label_smoothing=float("nan")),
    }
    case = cases[condition]
    assert condition in diagnosis.conditions_of(case, "float64", "value")
    changed = diagnosis._without(case, condition)
    assert changed is not None
    assert condition not in diagnosis.conditions_of(changed, "float64", "value")
    ReferenceImplementation().cross_entropy(changed.input, changed.target, changed.weight,
                                            changed.ignore_index, changed.reduction)


def _runner_with_torch(case: Case, torch_value: np.ndarray) -> Runner:
    return Runner(baseline=Outputs({(case.id, "float64", "cpu"): Output(torch_value, None)}))


class _Returns:
    name = "returns"
    dtypes = ("float64",)

    def __init__(self, value: float) -> None:
        self.value = value

    def cross_entropy(self, *args: object, **kwargs: object) -> np.ndarray:
        return np.asarray(self.value)


def test_sharing_torchs_own_wrong_output_is_labelled_not_charged() -> None:
    case = Case.of("c", np.zeros((2, 2)), np.zeros(2, dtype=np.int64))  # log 2
    shared = VALUE_CHECK.run(_runner_with_torch(case, np.asarray(0.0)).context(
        _Returns(0.0)), case)
    assert shared.verdict is Verdict.CONFORMS
    assert shared.outcome is Outcome.SHARES_TORCH
    assert shared.severity is None
    assert "defect of torch" in (shared.reason or "")
    # a different wrong value is the implementation's own
    own = VALUE_CHECK.run(_runner_with_torch(case, np.asarray(0.0)).context(_Returns(5.0)), case)
    assert own.verdict is Verdict.DIVERGES
    assert own.severity is Severity.WRONG_ON_VALID
    # torch right, the implementation wrong: no label
    right = VALUE_CHECK.run(_runner_with_torch(case, np.asarray(np.log(2))).context(
        _Returns(0.0)), case)
    assert right.verdict is Verdict.DIVERGES


def test_the_sign_of_zero_counts_only_where_the_spec_writes_minus_zero() -> None:
    cases = {c.id: c for c in load_spec(include=["one-class-*"])}
    context = Runner().context(_Returns(-0.0))
    assert VALUE_CHECK.run(context, cases["one-class-mean"]).verdict is Verdict.CONFORMS
    assert VALUE_CHECK.run(Runner().context(_Returns(1e-3)), cases["one-class-mean"]).verdict \
        is Verdict.DIVERGES


def test_one_class_none_still_fixes_its_negative_zero() -> None:
    case = load_spec(include=["one-class-none"])[0]

    class PositiveZeros(_Returns):
        def cross_entropy(self, *args: object, **kwargs: object) -> np.ndarray:
            return np.zeros(4)

    record = VALUE_CHECK.run(Runner().context(PositiveZeros(0.0)), case)
    assert record.verdict is Verdict.DIVERGES
    assert record.convention == "positive zero for a one-class row"


def test_an_empty_trigger_does_not_swallow_another_bug() -> None:
    """Equal logits (half-mean-rows: zeros) reduce to "wrong on plain input"; the negative
    weights of hostile-weight-* are a second bug that must keep a cause of its own."""
    cases = load_spec(include=["seed-*", "half-mean-rows-*", "hostile-weight-*"])
    records = run_spec([EqualLogitsAndNegativeWeights()], cases, ["float64"], ["cpu"])
    headlines = _causes(records)[Severity.WRONG_ON_VALID]
    assert headlines == {
        "wrong on the example's own values; a plain input conforms (no condition names the "
        "trigger)",
        "wrong when negative class weights ∧ class weights; correct without any one of them"}


def test_an_implementation_wrong_everywhere_is_wrong_on_plain_input(
        spec_cases: list[Case]) -> None:
    records = run_spec([AlwaysOff()], spec_cases, ["float64"], ["cpu"])
    assert _causes(records)[Severity.WRONG_ON_VALID] == {
        "wrong on plain input (class indices, (N, C), mean)"}


def test_an_empty_trigger_explains_only_its_own_dtype() -> None:
    cases = load_spec(include=["seed-*", "smooth-nan"])
    records = run_spec([Float64GradientAndNaNSmoothing()], cases, ["float64", "float32"],
                       ["cpu"])
    assert _causes(records)[Severity.WRONG_ON_VALID] == {
        "wrong gradient on plain input (class indices, (N, C), mean)",
        "wrong gradient with a NaN or negative label_smoothing (torch takes it as 0); correct "
        "without it"}


def test_a_wrong_dtype_everywhere_does_not_explain_wrong_values(
        spec_cases: list[Case]) -> None:
    records = run_spec([WideResultsAndSmoothing()], spec_cases, ["float32"], ["cpu"])
    assert _causes(records)[Severity.WRONG_ON_VALID] == {
        "returns another dtype than asked with float32; correct without it",
        "wrong with label_smoothing; correct without it"}


def test_a_long_reduction_is_a_condition() -> None:
    cases = load_spec(include=["seed-*", "half-mean-rows-*"])
    records = run_spec([LongSumDrift()], cases, ["float64"], ["cpu"])
    assert _causes(records)[Severity.WRONG_ON_VALID] == {
        f"wrong with a long reduction (>= {diagnosis.LONG_ROWS} rows); correct without it"}


@pytest.mark.parametrize("shape", [(5000, 3), (2, 3, 50, 50)])
def test_a_long_case_shortens_in_its_own_layout(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(2)
    target_shape = (shape[0], *shape[2:])
    case = Case.of("long", rng.standard_normal(shape), rng.integers(0, 3, target_shape))
    assert "long" in diagnosis.conditions_of(case, "float64", "value")
    short = diagnosis._without(case, "long")
    assert short is not None
    assert short.input.ndim == min(len(shape), 3)  # K-dim stays K-dim, d1 * ... flattened
    assert short.input.size // 3 <= 64
    assert short.target.shape == (short.input.shape[0], *short.input.shape[2:])
    assert "long" not in diagnosis.conditions_of(short, "float64", "value")
