"""``gate --results``: judging the records of an earlier ``ce-conformance run`` instead of
running again (how CI gates every built-in after its main job), with the same verdicts as a
gate that runs, and one-line usage errors for a file it cannot use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli import main

ROOT = Path(__file__).resolve().parent.parent
MINI_SPEC = Path(__file__).parent / "helpers" / "mini_spec.yaml"
WRONG = "tests.helpers.wrong_impl:WrongSum"
FLAGS = ("--no-properties", "--no-gradients", "--spec", str(MINI_SPEC), "-j", "1")


@pytest.fixture(autouse=True)
def _importable_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "report"
    assert main(["run", "--quiet", "--impl", "reference", "--impl", WRONG, *FLAGS,
                 "--out", str(out)]) == 0
    return out / "results.json"


def _gate(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    status = main(["gate", *FLAGS, *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_judging_recorded_results_gives_the_gates_verdicts(
        capsys: pytest.CaptureFixture[str], results: Path) -> None:
    status, out, _ = _gate(capsys, "--impl", "reference", "--results", results)
    assert status == 0, out
    assert "OK: conforms" in out
    recorded, out, _ = _gate(capsys, "--impl", WRONG, "--results", results)
    ran, out_ran, _ = _gate(capsys, "--impl", WRONG)
    assert recorded == ran == 1
    assert "NEW DIVERGENCE mini-3x4-sum [value, float64, cpu]" in out
    assert out.splitlines()[0] == out_ran.splitlines()[0]  # the same checks, the same counts


def test_the_plans_filters_apply_to_recorded_results(
        capsys: pytest.CaptureFixture[str], results: Path) -> None:
    status, out, _ = _gate(capsys, "--impl", WRONG, "--results", results,
                           "--exclude", "mini-*sum*")
    assert status == 0, out
    assert "mini-3x4-sum" not in out


def test_judged_results_keep_the_versions_their_run_recorded(
        capsys: pytest.CaptureFixture[str], results: Path, tmp_path: Path) -> None:
    """A judged folder merges over its run's as the same column (``report --merge`` keys a
    record by the versions of its document's provenance)."""
    doc = json.loads(results.read_text())
    doc["provenance"]["frameworks"]["reference"] = {"numpy": "9.9.9"}
    stamped = tmp_path / "results.json"
    stamped.write_text(json.dumps(doc))
    status, out, _ = _gate(capsys, "--impl", "reference", "--results", stamped,
                           "--out", tmp_path / "judged")
    assert status == 0, out
    judged = json.loads((tmp_path / "judged" / "results.json").read_text())
    assert judged["provenance"]["frameworks"] == {"reference": {"numpy": "9.9.9"}}
    assert judged["provenance"]["judged_from"] == str(stamped)


def test_unusable_results_are_one_line_usage_errors(
        capsys: pytest.CaptureFixture[str], results: Path, tmp_path: Path) -> None:
    status, _, err = _gate(capsys, "--impl", "torch", "--results", results)
    assert status == 2
    assert err.count("\n") == 1
    assert "no record of torch (it has reference, wrong-sum)" in err
    other = tmp_path / "other.json"
    doc = json.loads(results.read_text())
    doc["provenance"]["spec_sha256"] = "0" * 64
    other.write_text(json.dumps(doc))
    status, _, err = _gate(capsys, "--impl", "reference", "--results", other)
    assert status == 2
    assert "of another spec" in err
    (tmp_path / "bad.json").write_text("{not json")
    status, _, err = _gate(capsys, "--impl", "reference", "--results", tmp_path / "bad.json")
    assert status == 2
    assert "not a results.json" in err
