"""Hostile implementations (issue 21): a plugin that hangs on every call, hangs from its fourth
call in every fresh worker, segfaults, leaks memory, returns garbage or poisons its own process
costs a bounded time and only its own results, never counts as a pass, and the gate says so
with exit 3 (``conformance.limits``, ``conformance.isolation``).

Each plugin is in ``tests/helpers/faulty.py``; the runs use the small specs of
``tests/helpers`` and small time limits (``--timeout-floor``), so each test asserts its duration
bound in seconds, the records, and the exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from conformance import session
from conformance.cli import main
from conformance.commands.run import _steps
from conformance.isolation import isolate
from conformance.limits import Limits
from conformance.properties import run_properties
from conformance.results import Record
from conformance.session import Plan
from conformance.spec import load_spec
from conformance.vocabulary import Verdict

ROOT = Path(__file__).resolve().parent.parent
HELPERS = Path(__file__).parent / "helpers"
MINI_SPEC = HELPERS / "mini_spec.yaml"
POISON_SPEC = HELPERS / "poison_spec.yaml"
FAULTY = "tests.helpers.faulty:"
FLOOR = 1.0  # seconds: the least time limit of a call in the hang tests (a first call 6x)
FAST = Limits(timeout_floor=FLOOR)


@pytest.fixture(autouse=True)
def _importable_helpers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the runs' log folders land here


def _plan(spec: Path = MINI_SPEC, limits: Limits | None = None, **options: object) -> Plan:
    return Plan(cases=tuple(load_spec(spec)), limits=limits or Limits(),  # type: ignore[arg-type]
                **options)


def _gate(tmp_path: Path, plugin: str, *options: str,
          spec: Path = MINI_SPEC) -> tuple[int, float, list[dict[str, object]]]:
    """``gate`` on ``plugin``: its exit status, its duration and its records."""
    out = tmp_path / "gate"
    started = time.monotonic()
    status = main(["gate", "--impl", FAULTY + plugin, "--spec", str(spec), "--out", str(out),
                   *options])
    seconds = time.monotonic() - started
    records = json.loads((out / "results.json").read_text())["records"] if \
        (out / "results.json").exists() else []
    return status, seconds, records


def _judged(records: list[dict[str, object]]) -> list[dict[str, object]]:
    return [r for r in records if r["check"] not in ("inputs", "robustness", "gradient")]


@pytest.fixture(scope="module")
def reference_alone() -> list[dict[str, object]]:
    """The reference's records on the mini spec, run alone."""
    (result,) = session.run(["reference"], _plan())
    return [r.as_dict() for r in result.records]


# --- hangs ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_plugin_that_hangs_on_every_call_is_stopped_beside_the_others(reference_alone):
    started = time.monotonic()
    reference, hung = session.run(["reference", FAULTY + "HangsAlways"], _plan(limits=FAST),
                                  jobs=2)
    seconds = time.monotonic() - started
    # three timeouts (the first call's 6 floors, then a floor each) and three worker starts
    assert seconds < 30, f"a plugin that never returns took {seconds:.0f} s"
    assert [r.as_dict() for r in reference.records] == reference_alone, "the others' results"
    verdicts = [(r.case, r.verdict) for r in hung.records if r.check in ("value", "invalid")]
    assert verdicts == [("mini-3x4-none", "timed-out"), ("mini-3x4-mean", "timed-out"),
                        ("mini-3x4-sum", "timed-out"), ("mini-weight-mean", "not-run"),
                        ("mini-weight-sum", "not-run"), ("mini-invalid-target", "not-run")]
    stopped = [r for r in hung.records if r.verdict == "not-run"]
    assert all(r.reason == "stopped after 3 consecutive timeouts (--max-faults)"
               for r in stopped), stopped
    assert not [r for r in hung.records if r.verdict == "conforms"]


@pytest.mark.slow
def test_gate_exits_3_on_a_plugin_that_hangs_on_every_call(tmp_path):
    status, seconds, records = _gate(tmp_path, "HangsAlways", "--no-properties",
                                     "--timeout-floor", str(FLOOR))
    assert status == 3
    assert seconds < 30, f"the gate took {seconds:.0f} s on a plugin that never returns"
    assert Counter(r["verdict"] for r in _judged(records)) == {"timed-out": 3, "not-run": 3}


@pytest.mark.slow
def test_a_plugin_that_hangs_from_its_fourth_call_in_every_worker_is_stopped(tmp_path):
    status, seconds, records = _gate(tmp_path, "HangsFromFourthCall", "--max-examples", "2",
                                     "--timeout-floor", str(FLOOR))
    assert status == 3
    # three workers, each: three calls, one floor of waiting, a fresh worker for the rerun
    assert seconds < 60, f"the gate took {seconds:.0f} s"
    spec = [r for r in _judged(records) if r["origin"] == "spec"]
    assert all(r["verdict"] == "conforms" for r in spec), "a rerun in a fresh worker answers"
    generated = [r for r in records if str(r["check"]).startswith("property:") and
                 r["check"] != "property:gradient"]  # it has no gradient: unsupported
    assert generated
    assert all(r["verdict"] == "not-run" for r in generated), generated
    assert "3 workers in a row hung after a few calls" in str(generated[0]["reason"])
    (hung,) = [r for r in records if r["check"] == "robustness"]
    assert hung["verdict"] == "timed-out"
    assert "after 3 calls in its worker" in hung["reason"]


# --- crashes ----------------------------------------------------------------------------------


def test_a_plugin_that_segfaults_on_every_call_gets_no_conforming_record(tmp_path):
    status, seconds, records = _gate(tmp_path, "SegfaultsAlways", "--max-examples", "1")
    assert status == 3
    assert seconds < 40, f"the gate took {seconds:.0f} s"
    assert not [r for r in records if r["verdict"] == "conforms"], "a crash is no pass"
    assert not [r for r in records if r["outcome"] == "raises"], "a crash is no raise"
    verdicts = Counter(str(r["verdict"]) for r in _judged(records)
                       if r["check"] != "property:gradient")  # no gradient: unsupported
    assert verdicts["crashed"] == 3, verdicts
    assert set(verdicts) == {"crashed", "not-run"}, verdicts


@pytest.mark.slow
def test_a_crash_on_invalid_input_is_a_fault_not_a_raise():
    plan = Plan(cases=(), profile="ci", max_examples=1, limits=Limits(max_faults=0))
    (result,) = session.run([FAULTY + "SegfaultsAlways"], plan)
    invalid = [r for r in result.records if r.check.startswith("property:invalid-")]
    assert invalid, "the invalid-input properties ran"
    for record in invalid:
        assert record.verdict == "crashed", record
        assert record.outcome == "crash", record
        assert record.severity == "crash or timeout", record


def test_run_leads_its_summary_with_the_faults(capsys, tmp_path):
    status = main(["run", "--impl", FAULTY + "SegfaultsAlways", "--spec", str(MINI_SPEC),
                   "--no-properties", "--quiet", "--out", str(tmp_path / "r")])
    assert status == 0
    out, err = capsys.readouterr()
    assert "FAULTED on 6 of 6 checks" in " ".join(out.split()), out
    assert "nothing silently wrong" not in out
    # the folder of the workers' output is kept, and named, because something faulted
    kept = list(tmp_path.glob("ce-conformance-logs-*"))
    assert len(kept) == 1
    assert str(kept[0]) in "".join(err.split()), err  # rich wraps the path anywhere


def test_a_run_without_faults_leaves_no_log_folder(tmp_path):
    status = main(["run", "--impl", "reference", "--spec", str(MINI_SPEC), "--no-properties",
                   "--quiet", "--out", str(tmp_path / "r")])
    assert status == 0
    assert not list(tmp_path.glob("ce-conformance-logs-*"))


def test_a_worker_that_dies_while_loading_is_a_fault_and_no_traceback(tmp_path, capsys):
    status, _, _ = _gate(tmp_path, "DiesOnLoad", "--no-properties")
    err = capsys.readouterr().err
    assert status == 3
    assert "Traceback" not in err
    assert "nothing ran: loading the implementation: the worker died (the worker pool failed" \
        in err, err


# --- memory -----------------------------------------------------------------------------------


def test_a_leaking_plugin_is_held_to_its_memory_limit(tmp_path):
    # it keeps 256 MiB from every call: six calls would hold 1.5 GiB, the limit is 1 GiB
    status, seconds, records = _gate(tmp_path, "LeaksMemory", "--no-properties",
                                     "--memory-limit", "1G")
    assert status == 3, "an out-of-memory worker is a fault"
    assert seconds < 40
    assert all(r["verdict"] == "conforms" for r in _judged(records)), \
        "each call that ran out of memory was answered by a fresh worker"
    (oom,) = [r for r in records if r["check"] == "robustness"]
    assert oom["verdict"] == "out-of-memory", oom
    assert "ran out of memory (the worker's limit is 1 GiB, --memory-limit)" in oom["reason"]


# --- bad returns ------------------------------------------------------------------------------

# plugin -> (the gate's exit status, the outcome of every valid value check, text of its reason)
RETURNS = {
    "ReturnsNoneAlways": (3, "bad-return", "cross_entropy returned NoneType, not an array"),
    "ReturnsFloat16": (1, "wrong-dtype", "returned float16, not the float64 the call asked for"),
    "ReturnsWrongShape": (1, "value", "shape (2,) != expected ()"),
}


@pytest.mark.parametrize("plugin", sorted(RETURNS))
def test_a_plugin_that_returns_garbage(tmp_path, plugin):
    expected_status, outcome, text = RETURNS[plugin]
    status, seconds, records = _gate(tmp_path, plugin, "--no-properties")
    assert status == expected_status, plugin
    assert seconds < 30
    values = [r for r in records if r["check"] == "value"]
    assert values
    assert all(r["verdict"] == "diverges" for r in values), values
    assert {r["outcome"] for r in values} == {outcome}
    assert any(text in str(r["reason"]) for r in values), [r["reason"] for r in values]


@pytest.mark.slow
def test_a_bad_return_is_a_bad_return_in_the_properties_too():
    impl = isolate(FAULTY + "ReturnsNoneAlways")
    try:
        relations = run_properties(impl, max_examples=1, only=["shift", "differential"])
    finally:
        impl.close()
    assert relations
    for record in relations:
        assert record.outcome == "bad-return", record
        assert "raised" not in (record.reason or ""), record


# --- a poisoned worker (issue 20, item 5) -----------------------------------------------------


def test_failures_that_follow_a_poisoning_call_are_rerun_in_a_fresh_worker():
    (result,) = session.run([FAULTY + "PoisonedByInvalidTargets"], _plan(POISON_SPEC))
    judged = [r for r in result.records if r.check in ("value", "invalid")]
    # without the rerun, every valid call after an invalid one 'rejects valid input'
    assert all(r.verdict == "conforms" for r in judged), judged
    (poisoned,) = [r for r in result.records if r.check == "robustness"]
    assert poisoned.verdict == "diverges", poisoned
    assert poisoned.outcome == "raises", poisoned
    assert "its worker failed on 2 of 7 calls that a fresh worker then answered" in \
        (poisoned.reason or "")
    assert "command buffer failed" in (poisoned.reason or "")


def test_a_real_rejection_after_a_suspicious_call_is_still_recorded():
    (result,) = session.run([FAULTY + "RejectsSumAfterInvalidTargets"], _plan(POISON_SPEC))
    values = {r.case: r for r in result.records if r.check == "value"}
    assert values["poison-3x4-sum"].outcome == "raises", "the rerun confirmed the rejection"
    assert values["poison-weight-sum"].outcome == "raises"
    assert values["poison-3x4-mean"].verdict == "conforms"
    (robust,) = [r for r in result.records if r.check == "robustness"]
    assert robust.verdict == "conforms", robust


# --- before any work ----------------------------------------------------------------------------


def test_gate_refuses_another_implementations_expectations_before_work(capsys):
    started = time.monotonic()
    status = main(["gate", "--impl", FAULTY + "HangsAlways", "--spec", str(MINI_SPEC),
                   "--expectations", str(ROOT / "expectations" / "jax.yaml")])
    assert status == 2
    assert time.monotonic() - started < 10, "it ran before refusing"
    err = capsys.readouterr().err
    assert "not of 'hangs-always'" in err, err


def test_the_defaults_are_documented_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option, default in (("--max-faults", "default 3"), ("--timeout-factor", "default 50"),
                            ("--timeout-floor", "default 10"), ("--memory-limit",
                                                                "default 0.25")):
        assert option in text
        assert default in text, (option, default)


def test_a_time_budget_stops_an_implementation(tmp_path):
    # the reference, slowed to 0.05 s a call: its 12 spec calls take longer than 0.3 s
    out = tmp_path / "gate"
    status = main(["gate", "--impl", "tests.helpers.sleepy:Sleepy", "--spec", str(MINI_SPEC),
                   "--no-properties", "--impl-budget", "0.3", "--out", str(out)])
    assert status == 3, "checks the budget stopped kept the gate from a verdict"
    records = json.loads((out / "results.json").read_text())["records"]
    stopped = [r for r in records if r["verdict"] == "not-run"]
    assert stopped
    assert all("stopped after its time budget of 0.3 s" in r["reason"] for r in stopped)
    assert any(r["verdict"] == "conforms" for r in records), "it ran until the budget"


def test_progress_counts_a_propertys_causes_once():
    def record(check: str, case: str = "c") -> Record:
        return Record(case=case, impl="x", dtype="float64", device="cpu", check=check,
                      verdict=Verdict.DIVERGES, features=[])

    records = [record("value", "a"), record("gradient", "a"), record("value", "b"),
               record("property:shift"), record("property:shift", "d"),
               record("property:permutation"), record("inputs"), record("robustness")]
    assert _steps(records) == 4  # two cases, two properties


@pytest.mark.slow
def test_the_pytest_plugin_stops_a_hung_plugin_and_fails_the_rest(tmp_path):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--pyargs", "conformance.testsuite", "--ce-spec", str(MINI_SPEC),
                           "--ce-impl", FAULTY + "HangsAlways", "--ce-no-properties",
                           "--ce-timeout-floor", str(FLOOR), "--ce-max-faults", "2", "-q",
                           "-rA"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, check=False, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert time.monotonic() - started < 60
    # the failures' own messages (the -rA summary repeats them, cut to the terminal's width
    # at a point that depends on the path of the checkout)
    messages = [line for line in out.splitlines() if line.startswith("hangs-always ")]
    assert sum("timed-out on" in line for line in messages) == 2, out
    assert "not run on mini-invalid-target [invalid]: stopped after 2 consecutive timeouts" \
        in out, out
    assert " passed" not in out.splitlines()[-1], "a hung plugin passes nothing"
