"""Isolation: an implementation that exits, segfaults, hangs, writes into its inputs or returns
something that is not an array costs only its own checks (``conformance.isolation``,
``conformance.session``), and the run, the report and the gate say who did what.

Each fault comes from a purpose-built plugin in ``tests/helpers/faulty.py`` that breaks only
its calls with ``reduction="sum"`` (or its third call), run next to the reference on the small
spec ``tests/helpers/mini_spec.yaml``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance import session
from conformance.cli import main
from conformance.session import Plan
from conformance.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
MINI_SPEC = Path(__file__).parent / "helpers" / "mini_spec.yaml"
FAULTY = "tests.helpers.faulty:"
SUMMED = {"mini-3x4-sum", "mini-weight-sum"}


@pytest.fixture(autouse=True)
def _importable_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))


def _plan(timeout: float = 60.0) -> Plan:
    return Plan(cases=tuple(load_spec(MINI_SPEC)), timeout=timeout)


def _as_dicts(result: session.ImplResult) -> list[dict[str, object]]:
    return [record.as_dict() for record in result.records]


@pytest.fixture(scope="module")
def reference_alone() -> list[dict[str, object]]:
    """The reference's records from a run without any faulty implementation."""
    (result,) = session.run(["reference"], _plan())
    return _as_dicts(result)


# fault plugin -> (verdict of its summed value checks, text the record must show)
FAULTS = {
    "Segfaults": ("crashed", "killed by signal SIGSEGV"),
    "Hangs": ("timed-out", "no result within 2 s"),
    "ReturnsString": ("diverges", "cross_entropy returned str, not an array"),
    "ReturnsNone": ("diverges", "cross_entropy returned NoneType, not an array"),
}


OTHERS = ("ExitsOnThirdCall",)


@pytest.fixture(scope="module")
def beside_faults() -> dict[str, session.ImplResult]:
    """One run of the reference beside every faulty plugin (each in a worker of its own), by
    plugin name: what one fault does cannot reach the others' records, so one run shows each."""
    names = ["reference", *(FAULTY + fault for fault in (*sorted(FAULTS), *OTHERS))]
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))  # the workers import the plugins by module:attr
        results = session.run(names, _plan(timeout=2.0))
    return {name.removeprefix(FAULTY): result for name, result in zip(names, results,
                                                                       strict=True)}


def test_the_reference_beside_the_faults_is_the_reference_alone(beside_faults,
                                                                 reference_alone):
    assert _as_dicts(beside_faults["reference"]) == reference_alone, \
        "a fault changed the reference's records"


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_costs_only_the_faulty_checks(fault, beside_faults):
    verdict, text = FAULTS[fault]
    faulty = beside_faults[fault]
    values = {r.case: r for r in faulty.records if r.check == "value"}
    for case, record in values.items():
        expected = verdict if case in SUMMED else "conforms"
        assert record.verdict == expected, f"{fault} on {case}: {record.verdict} {record.reason}"
    for case in SUMMED:
        assert text in (values[case].reason or ""), f"{fault}: {values[case].reason}"
        assert values[case].repro, f"{fault}: a finding carries its call as a repro"
    invalid = next(r for r in faulty.records if r.check == "invalid")
    assert invalid.verdict == "conforms", f"{fault} lost a check it did not break"


def test_an_exit_on_the_third_call_is_the_workers_not_the_calls(beside_faults):
    faulty = beside_faults["ExitsOnThirdCall"]
    # the third call of a worker exits; rerun in a fresh worker (its first call) it answers,
    # so every check conforms and one robustness record says what the worker did
    checks = [r for r in faulty.records if r.check in ("value", "invalid")]
    assert all(r.verdict == "conforms" for r in checks), checks
    (crashed,) = [r for r in faulty.records if r.verdict == "crashed"]
    assert crashed.check == "robustness", crashed
    assert crashed.case == "mini-3x4-sum", crashed
    assert "failed on 2 of 6 calls that a fresh worker then answered" in (crashed.reason or "")
    assert "exited with status 1 (after 2 calls in its worker" in (crashed.reason or "")


def test_writing_into_the_input_is_a_finding_and_reaches_no_one_else(reference_alone):
    faulty, reference = session.run([FAULTY + "WritesIntoInput", "reference"], _plan())
    assert _as_dicts(reference) == reference_alone, "the scribbled input reached the reference"
    (inputs,) = [r for r in faulty.records if r.check == "inputs"]
    assert inputs.verdict == "diverges", inputs
    assert inputs.outcome == "writes-input", inputs
    assert "changed its input (2 of 6 calls)" in (inputs.reason or ""), inputs.reason
    assert inputs.case in SUMMED
    assert inputs.repro


@pytest.mark.slow  # two runs, six workers
def test_the_merged_records_do_not_depend_on_jobs():
    names = ["reference", FAULTY + "WritesIntoInput", FAULTY + "Segfaults"]
    one = session.run(names, _plan(), jobs=1)
    two = session.run(names, _plan(), jobs=2)
    assert [_as_dicts(r) for r in one] == [_as_dicts(r) for r in two]


def test_a_crash_ends_a_property_search_with_a_crashed_record():
    plan = Plan(cases=(), profile="ci", max_examples=4, timeout=60.0)
    (result,) = session.run([FAULTY + "Segfaults"], plan)
    differential = next(r for r in result.records if r.check == "property:differential")
    assert differential.verdict == "crashed", differential
    assert "SIGSEGV" in (differential.reason or "")
    assert differential.case_spec is not None


# --- through the command line -----------------------------------------------------------------


def test_run_writes_a_report_naming_the_culprit_and_the_fault(capsys, tmp_path):
    out = tmp_path / "report"
    status = main(["run", "--impl", "reference", "--impl", FAULTY + "Segfaults", "--spec",
                   str(MINI_SPEC), "--no-properties", "--quiet", "--out", str(out)])
    assert status == 0
    records = json.loads((out / "results.json").read_text())["records"]
    crashed = [r for r in records if r["verdict"] == "crashed"]
    assert {r["impl"] for r in crashed} == {"segfaults"}
    assert "segfaults" in (out / "divergences.md").read_text()
    assert "SIGSEGV" in (out / "divergences.md").read_text()


@pytest.mark.parametrize("fault", ["MarkupName", "LongName"])
def test_odd_names_do_not_break_the_run(capsys, tmp_path, fault):
    status = main(["run", "--impl", FAULTY + fault, "--spec", str(MINI_SPEC), "--no-properties",
                   "--quiet", "--out", str(tmp_path / "r")])
    assert status == 0
    assert (tmp_path / "r" / "matrix.html").is_file()


def _gate(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["gate", "--no-properties", "--spec", str(MINI_SPEC), *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_gate_exits_3_on_a_crash(capsys):
    status, out, _ = _gate(capsys, "--impl", FAULTY + "Segfaults")
    assert status == 3, out
    assert "NEW CRASHED mini-3x4-sum" in out


def test_gate_exits_3_when_nothing_ran_on_a_missing_device(capsys):
    status, _, err = _gate(capsys, "--impl", "reference", "--device", "cuda")
    assert status == 3
    assert "nothing ran" in err
    assert "no cuda device" in err


def test_gate_help_lists_the_exit_statuses(capsys):
    with pytest.raises(SystemExit):
        main(["gate", "--help"])
    out = capsys.readouterr().out
    for status in ("0 conforms", "1 a new divergence", "2 usage error", "3 a crash"):
        assert status in out
