"""``ce-conformance gate``: exit status, the summary, expectations files and JUnit XML.

The gate is driven in-process through ``conformance.cli.main`` on a small spec of its own
(``tests/helpers/mini_spec.yaml``), so these tests neither depend on the canonical cases nor
take long; only the reference's own gate runs the canonical spec.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.expectations import ExpectationsError, load_expectations
from conformance.results import read_results

ROOT = Path(__file__).resolve().parent.parent
MINI_SPEC = Path(__file__).parent / "helpers" / "mini_spec.yaml"
WRONG = "tests.helpers.wrong_impl:WrongSum"


@pytest.fixture(autouse=True)
def _importable_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))


def gate(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    status = main(["gate", "--no-properties", "--no-gradients", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def wrong(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    return gate(capsys, "--impl", WRONG, "--spec", MINI_SPEC, *args)


@pytest.fixture(scope="module")
def wrong_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of ``WrongSum`` on the mini spec, for the tests of how an expectations file is
    judged (``gate --results``: the same verdicts as a gate that runs, shown in
    ``tests/test_gate_results.py``; a gate that runs is tested above and below)."""
    out = tmp_path_factory.mktemp("wrong") / "report"
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))  # the worker imports the helper by module:attr
        assert main(["run", "--quiet", "--impl", WRONG, "--spec", str(MINI_SPEC),
                     "--no-properties", "--no-gradients", "--out", str(out)]) == 0
    return out / "results.json"


def judged(capsys: pytest.CaptureFixture[str], results: Path,
           *args: str | Path) -> tuple[int, str, str]:
    """``wrong`` judged from the records of ``wrong_results`` instead of a run of its own."""
    return wrong(capsys, "--results", results, *args)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "expectations.yaml"
    path.write_text(text, encoding="utf-8")
    return path


SUM_ENTRY = """\
  - select: {check: value, feature: reduction-sum}
    reason: "sums come out 1.5 times too large"
    link: "tests/helpers/wrong_impl.py"
"""


@pytest.mark.slow  # the whole canonical spec
def test_reference_conforms_on_the_canonical_spec(capsys):
    status, out, _ = gate(capsys, "--impl", "reference")
    assert status == 0, out
    assert "OK: conforms" in out


def test_a_wrong_implementation_fails_with_its_divergence(capsys):
    status, out, _ = wrong(capsys)
    assert status == 1
    assert "NEW DIVERGENCE mini-3x4-sum [value, float64, cpu]" in out
    assert "NEW DIVERGENCE mini-weight-sum" in out
    assert "mini-3x4-mean" not in out
    # the reproduction snippet loads the plugin the way the gate did
    assert "implementations.load('tests.helpers.wrong_impl:WrongSum')" in out
    # one cause, with its real numbers, its severity, and one line per severity up front
    assert "2 new findings (1 cause)" in out
    assert "  wrong on valid input: 1 new (2 checks), 0 known" in out
    # headed by its cause, named by its trigger; the example's real numbers below
    assert "NEW wrong on valid input: wrong-sum · value: wrong with reduction='sum'; correct " \
        "without it" in out
    assert "mini-3x4-sum [value, float64, cpu]: off by 1.46" in out
    assert out.count("reproduce with") == 1


def test_new_findings_are_grouped_across_dtypes_most_severe_first():
    import io

    from conformance.commands.gate import print_summary
    from conformance.expectations import Expectations
    from conformance.results import Record

    def record(dtype: str, check: str, outcome: str, reason: str) -> Record:
        return Record(case=f"c-{check}", impl="x", dtype=dtype, device="cpu", check=check,
                      verdict="diverges", outcome=outcome,  # type: ignore[arg-type]
                      features=[], reason=reason, repro=f"print({dtype!r})")
    records = [record("float32", "invalid", "silent", "target-dtype: silently returned"),
               record("float32", "value", "value", "off by 0.5 (9 ULP)"),
               record("float64", "value", "value", "off by 0.25 (7 ULP)")]
    out = io.StringIO()
    print_summary(Expectations().annotate(records), "x", ["float32", "float64"], ["cpu"],
                  False, [], out)
    text = out.getvalue()
    assert "3 new findings (2 causes)" in text
    wrong = text.index("NEW wrong on valid input: x · value: off by")
    accepts = text.index("NEW silently accepts invalid input: x · invalid")
    assert wrong < accepts
    assert "2 checks in float32, float64 on cpu" in text
    assert text.count("reproduce with") == 2
    assert text.index("wrong on valid input: 1 new (2 checks), 0 known") < \
        text.index("silently accepts invalid input: 1 new (1 check), 0 known") < wrong


def test_a_listed_divergence_passes(capsys, tmp_path, wrong_results):
    path = write(tmp_path, "implementation: wrong-sum\ndivergences:\n" + SUM_ENTRY)
    status, out, _ = judged(capsys, wrong_results, "--expectations", path, "--strict")
    assert status == 0, out
    assert "known divergences: 2 checks, covered by 1 entries" in out
    assert "NEW DIVERGENCE" not in out


def test_a_fixed_divergence_is_reported_and_fails_when_strict(capsys, tmp_path, wrong_results):
    fixed = """\
  - select: {check: value, case: "mini-3x4-mean"}
    reason: "was wrong once"
"""
    path = write(tmp_path, "divergences:\n" + SUM_ENTRY + fixed)
    status, out, _ = judged(capsys, wrong_results, "--expectations", path)
    assert status == 0, out
    assert f"FIXED (warning): {path}:5:" in out
    status, out, _ = judged(capsys, wrong_results, "--expectations", path, "--strict")
    assert status == 1
    assert f"FIXED (error): {path}:5:" in out


def test_an_unmatched_entry_is_reported(capsys, tmp_path, wrong_results):
    stale = """\
  - select: {case: "no-such-case-*"}
    reason: "a case that was renamed"
"""
    path = write(tmp_path, "divergences:\n" + SUM_ENTRY + stale)
    status, out, _ = judged(capsys, wrong_results, "--expectations", path)
    assert status == 0
    assert f"UNMATCHED (warning): {path}:5: {{case=no-such-case-*}}" in out
    assert judged(capsys, wrong_results, "--expectations", path, "--strict")[0] == 1


def test_entries_for_checks_left_out_are_not_judged(capsys, tmp_path, wrong_results):
    left_out = """\
  - select: {dtype: float32, case: "mini-3x4-*"}
    reason: "only in float32"
  - select: {check: "property:*"}
    reason: "a generated property"
  - select: {case: "large-*-padded", check: value}
    reason: "only in the large profile's own spec (spec/large.yaml), which this run leaves out"
"""
    path = write(tmp_path, "divergences:\n" + SUM_ENTRY + left_out)
    status, out, _ = judged(capsys, wrong_results, "--expectations", path, "--strict")
    assert status == 0, out
    assert "3 entries select only checks this run left out" in out
    assert "UNMATCHED" not in out


def test_an_entry_without_a_reason_is_a_usage_error(capsys, tmp_path):
    path = write(tmp_path, "divergences:\n" + SUM_ENTRY + "  - select: {case: x}\n    link: y\n")
    status, out, err = wrong(capsys, "--expectations", path)
    assert status == 2
    assert err.strip() == f"ce-conformance: error: {path}:5: entry without a reason"
    assert out == ""


@pytest.mark.parametrize(("text", "problem"), [
    ("divergences:\n  - select: {colour: red}\n    reason: r\n", "unknown selector key 'colour'"),
    ("divergences:\n  - reason: r\n", "entry without a selector"),
    ("divergences: {a: 1}\n", "'divergences' must be a list"),
    ("divergences: [\n", "invalid YAML"),
    ("implementation: torch\ndivergences: []\n", "not of 'wrong-sum'"),
    ("divergences:\n  - select: {check: valeu}\n    reason: r\n", "check='valeu' matches none"),
    ("divergences:\n  - select: {dtype: float8}\n    reason: r\n", "dtype='float8' matches none"),
    ("divergences:\n  - select: {check: value, case: gen-*}\n    reason: r\n",
     "case='gen-\\*' matches generated case ids"),
    ("divergences:\n  - select: {check: 'property:shift', case: 'mini-*'}\n    reason: r\n",
     "'case' in an entry for generated checks"),
    ("divergences:\n  - select: {signature: 'property:shift / diverges / value / x', "
     "case: 'mini-*'}\n    reason: r\n", "'case' in an entry for generated checks"),
    ("divergences:\n  - select: {signature: 'property:shift / diverges'}\n    reason: r\n",
     "must read 'check / verdict / outcome / features'"),
    ("divergences:\n  - select: {signature: 'property:shift / diverged / value / x'}\n"
     "    reason: r\n", "its verdict='diverged' matches none"),
    ("divergences:\n  - select: {outcome: valeu}\n    reason: r\n", "outcome='valeu' matches"),
])
def test_malformed_files_name_the_line(capsys, tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(ExpectationsError, match=problem) as info:
        load_expectations(path, "wrong-sum")
    assert str(info.value).startswith(f"{path}:")
    assert wrong(capsys, "--expectations", path)[0] == 2


def test_usage_errors_exit_2_on_one_line(capsys, tmp_path):
    for args in (["--impl", "no-such-implementation"],
                 ["--impl", WRONG, "--expectations", tmp_path / "missing.yaml"]):
        status, _, err = gate(capsys, *args)
        assert status == 2
        assert err.startswith("ce-conformance: error: ")
        assert err.count("\n") == 1


def test_junit_has_failures_for_new_divergences_and_is_deterministic(capsys, tmp_path):
    path = write(tmp_path, "divergences:\n" + SUM_ENTRY.replace("feature: reduction-sum",
                                                               "case: mini-weight-sum"))
    first, second = tmp_path / "a.xml", tmp_path / "b.xml"
    assert wrong(capsys, "--expectations", path, "--junit", first)[0] == 1
    assert wrong(capsys, "--expectations", path, "--junit", second)[0] == 1
    assert first.read_bytes() == second.read_bytes()
    suite = ET.parse(first).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    # six spec checks, and the run's two records of the calls themselves
    assert len(cases) == 8 == int(suite.get("tests", "0"))
    for whole_run in ("all-calls [inputs]", "all-calls [robustness]"):
        assert len(cases[whole_run]) == 0, f"{whole_run} should pass for WrongSum"
    failure = cases["mini-3x4-sum [value]"].find("failure")
    assert failure is not None
    assert "implementations.load('tests.helpers.wrong_impl:WrongSum')" in (failure.text or "")
    skipped = cases["mini-weight-sum [value]"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "known divergence: sums come out 1.5 times too large"
    assert cases["mini-3x4-mean [value]"].find("failure") is None
    assert suite.get("failures") == "1"


def test_out_writes_results_with_expected_reasons(capsys, tmp_path):
    import json

    path = write(tmp_path, "divergences:\n" + SUM_ENTRY)
    assert wrong(capsys, "--expectations", path, "--out", tmp_path / "run")[0] == 0
    records = json.loads((tmp_path / "run" / "results.json").read_text())["records"]
    reasons = {r["case"]: r["expected_reason"] for r in records if r["verdict"] == "diverges"}
    assert reasons == {"mini-3x4-sum": "sums come out 1.5 times too large",
                       "mini-weight-sum": "sums come out 1.5 times too large"}


def test_run_marks_divergences_known_by_a_given_expectations_file(tmp_path, capsys):
    expectations = write(tmp_path, f"implementation: wrong-sum\ndivergences:\n{SUM_ENTRY}")
    out = tmp_path / "report"
    status = main(["run", "--impl", WRONG, "--spec", str(MINI_SPEC), "--no-properties",
                   "--no-gradients", "--quiet", "--expectations", str(expectations),
                   "--out", str(out)])
    capsys.readouterr()
    assert status == 0
    records = read_results(out / "results.json")["records"]
    diverging = [r for r in records if r["verdict"] == "diverges"]
    assert diverging
    assert {r["expected_reason"] for r in diverging} == {"sums come out 1.5 times too large"}


# --- generated findings, selected by their cause signature ------------------------------------

TWO_CAUSES = "tests.helpers.two_causes:"
SUM_SIGNATURE = "property:differential / diverges / value / indices,reduction-sum"
PADDING_SIGNATURE = "property:differential / diverges / value / indices,ignore-index,*"


def signatures(*patterns: str) -> str:
    entries = "".join(f"  - select: {{signature: {p!r}}}\n    reason: r{i}\n"
                      for i, p in enumerate(patterns))
    return "divergences:\n" + SUM_ENTRY.replace("check: value", "check: [value, invalid]") + \
        entries


def gate_properties(capsys: pytest.CaptureFixture[str], impl: str,
                    *args: str | Path) -> tuple[int, str]:
    status = main(["gate", "--impl", TWO_CAUSES + impl, "--spec", str(MINI_SPEC),
                   "--no-gradients", *map(str, args)])
    return status, capsys.readouterr().out


def test_a_known_signature_covers_its_generated_finding(capsys, tmp_path):
    path = write(tmp_path, signatures(SUM_SIGNATURE))
    status, out = gate_properties(capsys, "WrongSumOnly", "--expectations", path, "--strict")
    assert status == 0, out


@pytest.fixture(scope="module")
def padding_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of ``WrongSumAndPadding`` (spec and properties) that the gates below judge
    (``gate --results``, which ``tests/test_gate_results.py`` shows judges as a gate that runs):
    the property search is the slow part, and it is the same for every expectations file."""
    out = tmp_path_factory.mktemp("padding") / "report"
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))  # the worker imports the helper by module:attr
        assert main(["run", "--quiet", "--impl", TWO_CAUSES + "WrongSumAndPadding", "--spec",
                     str(MINI_SPEC), "--no-gradients", "--out", str(out)]) == 0
    return out / "results.json"


def test_a_new_signature_in_a_property_with_a_known_one_fails_the_gate(capsys, tmp_path,
                                                                        padding_results):
    """Both implementations get the sum wrong, and the file knows that cause; the second also
    miscounts padding in a mean: a cause of its own in the same property, which must fail."""
    path = write(tmp_path, signatures(SUM_SIGNATURE))
    status, out = gate_properties(capsys, "WrongSumAndPadding", "--expectations", path,
                                  "--results", padding_results)
    assert status == 1, out
    # one cause: the generated finding and the covering cases that meet the same bug
    assert out.count("NEW wrong on valid input: wrong-sum-and-padding · property:differential, "
                     "value: wrong with ignored targets (ignore_index); correct without it") \
        == 1, out
    both = write(tmp_path, signatures(SUM_SIGNATURE, PADDING_SIGNATURE) +
                 "  - select: {case: 'cover-*-ii-*', check: value}\n    reason: padding\n")
    status, out = gate_properties(capsys, "WrongSumAndPadding", "--expectations", both,
                                  "--strict", "--results", padding_results)
    assert status == 0, out
