"""Systematic coverage (``conformance.coverage``): the covering array covers every feasible
t-tuple (checked by brute force on the product), is deterministic, respects the constraints
(held equal to what torch does) and an implementation's ``supports``; the spec's cases seed it;
and a bug on a 3-way combination the spec never reaches is caught only by the covering cases."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from conformance import coverage as cv
from conformance import spec
from conformance.case import Case
from conformance.commands import gate
from conformance.report import coverage as coverage_report
from conformance.report.merge import problems
from conformance.report.render import rendered
from conformance.results import Record, document
from conformance.session import Plan, run
from conformance.vocabulary import Check, Origin, Verdict
from implementations.base import unsupported_reason
from tests.helpers.coverage_impls import KdimProbSmoothing, NoWeights

WRONG = "tests.helpers.coverage_impls:KdimProbSmoothing"


def _spec_rows() -> list[cv.Row]:
    return [row for case in spec.load_spec() if (row := cv.levels_of(case)) is not None]


def _exercises(row: cv.Row, combination: cv.Combination) -> bool:
    """Whether ``row`` has the levels of ``combination`` and, where it is an empty batch or
    ignores every target, ``combination`` fixes that (the rule of ``cv.DEGENERATE``)."""
    fixed = dict(combination)
    if any(row[i] != level for i, level in combination):
        return False
    empty, ignore = cv.NAMES.index("empty"), cv.NAMES.index("ignore")
    return (row[empty] != "yes" or empty in fixed) and (row[ignore] != "all" or ignore in fixed)


def _missed(chosen: list[cv.Row], candidates: tuple[cv.Row, ...] | list[cv.Row], t: int,
            seeded: frozenset[cv.Combination] | set[cv.Combination] = frozenset()
            ) -> list[cv.Combination]:
    """Brute force over the product: the t-tuples a candidate exercises that no chosen row
    exercises and ``seeded`` does not hold."""
    missed = []
    for dims in itertools.combinations(range(len(cv.DIMENSIONS)), t):
        for levels in itertools.product(*(cv.DIMENSIONS[i].levels for i in dims)):
            combination = tuple(zip(dims, levels, strict=True))
            if any(_exercises(row, combination) for row in candidates) and \
                    combination not in seeded and \
                    not any(_exercises(row, combination) for row in chosen):
                missed.append(combination)
    return missed


@pytest.mark.parametrize("t", [2, 3, 4])
def test_covering_array_covers_every_feasible_tuple(t: int) -> None:
    chosen = cv.cover(cv.feasible_rows(), t)
    assert _missed(chosen, cv.feasible_rows(), t) == []
    assert all(cv.infeasible(row) is None for row in chosen)
    assert len(chosen) < len(cv.feasible_rows())


def test_full_strength_is_the_whole_supported_product() -> None:
    assert sorted(cv.cover(cv.feasible_rows(), len(cv.DIMENSIONS))) == \
        sorted(cv.feasible_rows())


def test_a_check_that_skips_a_row_is_caught_by_the_brute_force() -> None:
    chosen = cv.cover(cv.feasible_rows(), 3)
    assert _missed(chosen[:-1], cv.feasible_rows(), 3)  # the last row added covers something


def test_covering_array_and_its_cases_are_deterministic() -> None:
    first = cv.cover(cv.feasible_rows(), 3)
    assert first == cv.cover(list(cv.feasible_rows()), 3)
    row = first[0]
    again = cv.case_of.__wrapped__(row)  # type: ignore[attr-defined]
    case = cv.case_of(row)
    assert case.id == again.id == cv.case_id(row)
    np.testing.assert_array_equal(case.input, again.input)
    np.testing.assert_array_equal(case.target, again.target)


def test_case_ids_are_unique_and_name_their_combination() -> None:
    ids = [cv.case_id(row) for row in cv.feasible_rows()]
    assert len(set(ids)) == len(ids)
    row = ("k-dim", "probabilities", "class", "none", "positive", "sum", "no")
    assert cv.case_id(row) == "cover-kdim-probs-weight-smooth-sum"


def test_each_feasible_row_is_the_row_its_case_exercises() -> None:
    for row in cv.feasible_rows():
        assert cv.levels_of(cv.case_of(row)) == row


def test_constraints_are_what_torch_does() -> None:
    """A feasible row runs in torch (value and gradient); a row a ``raises`` constraint rules
    out raises in torch; one ruled out as meaningless runs, but as another row."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    for row in cv.rows():
        case = cv.case_of(row)
        x = torch.tensor(case.input, requires_grad=True)
        weight = None if case.weight is None else torch.tensor(case.weight)
        try:
            loss = functional.cross_entropy(x, torch.tensor(case.target), weight,
                                            ignore_index=case.ignore_index,
                                            reduction=case.reduction,
                                            label_smoothing=case.label_smoothing)
            loss.sum().backward()
            raised = False
        except (RuntimeError, ValueError, IndexError):
            raised = True
        constraint = cv.infeasible(row)
        if constraint is None:
            assert not raised, row
        elif constraint.raises:
            assert raised, (row, constraint.reason)
        else:
            assert not raised, (row, constraint.reason)
            assert cv.levels_of(case) != row, (row, constraint.reason)


def test_pruning_by_supports_and_its_table() -> None:
    impl = NoWeights()
    unsupported = cv.unsupported_rows(lambda case: unsupported_reason(impl, case.call()))
    rows = cv.covering_rows(3, unsupported, [])
    assert rows
    assert all(row[cv.NAMES.index("weight")] == "none" for row in rows)
    table = cv.table(impl.name, "float64", "cpu", 3, unsupported, [], rows)
    everything = cv.table("all", "float64", "cpu", 3, lambda row: None, [],
                          cv.cover(cv.feasible_rows(), 3))
    assert table.covered == table.supported < everything.supported
    assert table.spec == 0
    (weights,) = [g for g in table.gaps if ("weight", "class") in g.combination]
    assert weights.combination == (("weight", "class"),)
    assert (weights.kind, weights.reason) == ("unsupported", "no-weights has no class weights")
    infeasible = [g for g in table.gaps if g.kind == "infeasible"]
    assert (("target", "probabilities"), ("ignore", "in-range")) in \
        [g.combination for g in infeasible]
    assert any(g.kind == "infeasible" for g in everything.gaps)
    assert [g for g in everything.gaps if g.kind == "unsupported"] == []


def test_seeding_with_the_spec_only_adds_what_is_missing() -> None:
    seeded_rows = _spec_rows()
    seeded = {c for row in seeded_rows for c in cv.combinations(row, 3)}
    with_spec = cv.cover(cv.feasible_rows(), 3, seeded)
    alone = cv.cover(cv.feasible_rows(), 3)
    assert len(with_spec) < len(alone)
    assert _missed(with_spec, cv.feasible_rows(), 3, seeded) == []
    table = cv.table("all", "float64", "cpu", 3, lambda row: None, seeded_rows, with_spec)
    assert table.spec < table.covered == table.supported


def test_levels_of_leaves_out_invalid_non_finite_and_classless_cases() -> None:
    plain = Case.of(id="plain", input=np.zeros((2, 3)), target=np.array([0, 2]))
    assert cv.levels_of(plain) == ("batch", "indices", "none", "none", "none", "mean", "no")
    nan = Case.of(id="nan", input=np.array([[np.nan, 0, 0]]), target=np.array([0]))
    classless = Case.of(id="classless", input=np.zeros((2, 0)), target=np.array([-100, -100]))
    assert cv.levels_of(nan) is None
    assert cv.levels_of(classless) is None
    ignored = Case.of(id="ii", input=np.zeros((3, 4)), target=np.array([1, 0, 2]), ignore_index=1)
    assert cv.levels_of(ignored)[cv.NAMES.index("ignore")] == "in-range"  # type: ignore[index]


def test_the_spec_alone_misses_a_bug_the_covering_cases_catch() -> None:
    """Wrong only on K-dim ∧ probabilities ∧ smoothing: the spec reaches that combination only
    with weights, which this implementation does not support; the ci run's covering cases
    reach it, and its coverage table says every supported 3-tuple was exercised."""
    plan = Plan(tuple(spec.load_spec()), versus_torch=False, timeout=None)
    (alone,) = run([WRONG], plan)
    assert alone.records
    assert not [r for r in alone.records if r.verdict == Verdict.DIVERGES]
    assert alone.coverage == []
    (ci,) = run([WRONG], Plan(plan.cases, profile="ci", max_examples=1, versus_torch=False,
                              timeout=None))
    spec_found = [r for r in ci.records if r.origin == Origin.SPEC and
                  r.verdict == Verdict.DIVERGES]
    covering_found = {r.case for r in ci.records if r.origin == Origin.COVERING and
                      r.verdict == Verdict.DIVERGES}
    assert spec_found == []
    assert covering_found
    assert all(c.startswith("cover-kdim") and "-probs-" in c and
                                  "-smooth-" in c for c in covering_found)
    (table,) = ci.coverage
    assert (table.impl, table.t) == ("kdim-prob-smoothing", 3)
    assert table.spec < table.covered == table.supported
    combination = (("layout", "k-dim"), ("target", "probabilities"), ("smoothing", "positive"))
    rows = [row for row in cv.feasible_rows() if cv.case_id(row) in table.cases]
    assert any(set(combination) <= {(cv.NAMES[i], level) for i, level in enumerate(row)}
               for row in rows)


def test_the_reference_without_the_bug_conforms_on_the_covering_cases() -> None:
    impl, wrong = NoWeights(), KdimProbSmoothing()
    case = cv.case_of(("k-dim", "probabilities", "none", "none", "positive", "sum", "no"))
    args = {"input": case.input, "target": case.target, **case.kwargs()}
    assert not np.allclose(impl.cross_entropy(**args), wrong.cross_entropy(**args))
    plain = cv.case_of(("batch", "probabilities", "none", "none", "positive", "sum", "no"))
    args = {"input": plain.input, "target": plain.target, **plain.kwargs()}
    np.testing.assert_array_equal(impl.cross_entropy(**args), wrong.cross_entropy(**args))


def _document() -> dict[str, object]:
    impl = NoWeights()
    unsupported = cv.unsupported_rows(lambda case: unsupported_reason(impl, case.call()))
    rows = cv.covering_rows(3, unsupported, [])
    table = cv.table(impl.name, "float64", "cpu", 3, unsupported, [], rows)
    record = Record(case=cv.case_id(rows[0]), impl=impl.name, dtype="float64", device="cpu",
                    check=Check.VALUE, verdict=Verdict.CONFORMS, origin=Origin.COVERING,
                    case_spec=cv.case_of(rows[0]).to_spec())
    prov = {"suite_version": "0", "commit": None, "spec_sha256": "0", "created": "now",
            "python": "3", "platform": "test"}
    return document([record], prov, {}, [table.as_dict()])


def test_results_with_coverage_match_the_schema_and_render() -> None:
    doc = _document()
    assert problems(doc) == []
    files = rendered(doc)
    assert "## Coverage" in files["matrix.md"]
    assert "| no-weights | float64 | cpu | 3 |" in files["matrix.md"]
    assert "`weight=class`: unsupported, no-weights has no class weights" in files["matrix.md"]
    assert 'id="coverage"' in files["matrix.html"]
    (line,) = coverage_report.summary_lines(doc["coverage"])  # type: ignore[arg-type]
    assert line.startswith("no-weights: 3-way 100% of ")
    assert "## Coverage" not in rendered({**doc, "coverage": []})["matrix.md"]


def test_gate_judges_covering_records_of_a_ci_results_file(tmp_path: Path) -> None:
    record = Record(case="cover-nc-idx-sum", impl="x", dtype="float64", device="cpu",
                    check=Check.GRADIENT, verdict=Verdict.CONFORMS, origin=Origin.COVERING)
    ci = Plan((), profile="ci")
    assert gate._planned(record, ci, set())
    assert not gate._planned(record, Plan((), profile=None), set())
    assert not gate._planned(record, Plan((), profile="ci", gradients=False), set())


def test_an_empty_or_all_ignored_row_exercises_only_combinations_that_fix_it() -> None:
    empty = ("k-dim", "probabilities", "none", "none", "positive", "mean", "yes")
    assert all(("empty", "yes") in [(cv.NAMES[i], level) for i, level in c]
               for c in cv.combinations(empty, 3))
    ignored = ("batch", "indices", "class", "all", "positive", "sum", "no")
    assert all(any(cv.NAMES[i] == "ignore" for i, _ in c) for c in cv.combinations(ignored, 2))
    plain = ("k-dim", "probabilities", "none", "none", "positive", "mean", "no")
    assert len(cv.combinations(plain, 3)) == 35 > len(cv.combinations(empty, 3)) == 15
