"""The report renderer: matrix cells, divergence groups, schema, escaping, determinism,
merging and the ``report`` command, on a small synthetic results document."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance import cli
from conformance.features import FEATURES
from conformance.report import is_current, merge, problems, render_report, rendered
from conformance.report.merge import schema
from conformance.report.render import build
from conformance.results import Record, document, write_results

PROVENANCE: dict[str, Any] = {
    "suite_version": "0.1.0", "commit": "0123456789abcdef", "spec_sha256": "ab" * 32,
    "created": "2024-01-01T00:00:00+00:00", "python": "3.11.9", "platform": "Linux-x86_64",
    "cpu": "Test CPU", "gpus": [], "frameworks": {"torch": {"torch": "2.4.0"}},
}
EVIL = "<script>alert(1)</script>"


def _error(ulp: float, ok: bool) -> dict[str, Any]:
    return {"ok": ok, "max_abs": ulp * 1e-7, "max_rel": ulp * 1e-7, "max_ulp": ulp,
            "allowed_abs": 1e-6, "mismatch": None}


def _repro(values: list[float]) -> str:
    return f"import numpy as np\ninput = np.array({values!r}, dtype=np.float32)\n"


def _value(case: str, impl: str, verdict: str, ulp: float, size: int = 2,
           dtype: str = "float32", **extra: Any) -> Record:
    ok = verdict == "conforms"
    return Record(case=case, impl=impl, dtype=dtype, device="cpu", check="value",
                  verdict=verdict,  # type: ignore[arg-type]
                  features=["indices", "reduction-mean", f"dtype-{dtype}"],
                  reason=None if ok else f"off by {ulp * 1e-7:.3g} ({ulp:.3g} ULP); allowed 1e-06",
                  error=_error(ulp, ok), outcome="value",
                  expected={"shape": [], "dtype": "float64", "values": [1.5]},
                  actual={"shape": [], "dtype": dtype, "values": [1.5 + ulp * 1e-7]},
                  repro=_repro([0.5] * size), **extra)


def records() -> list[Record]:
    """Every verdict: torch conforms on indices but diverges (3x, one cause) on float16;
    jax is unsupported on probabilities; an invalid case is silently accepted (known)."""
    out = [_value("plain", "torch", "conforms", 0.5), _value("plain", "jax", "conforms", 1.0)]
    out += [_value(f"half-{n}", "torch", "diverges", 10.0 * n, size=n, dtype="float16")
            for n in (4, 2, 8)]
    out.append(Record(case="probs", impl="jax", dtype="float32", device="cpu", check="value",
                      verdict="unsupported", features=["probabilities", "dtype-float32"],
                      reason="jax has no probability targets"))
    out.append(Record(case="probs", impl="torch", dtype="float32", device="cpu",
                      check="gradient", verdict="conforms",
                      features=["probabilities", "dtype-float32", "gradients"],
                      error=_error(0.0, True), outcome="value"))
    out.append(Record(case=f"bad-target-{EVIL}", impl="torch", dtype="float32", device="cpu",
                      check="invalid", verdict="diverges", outcome="silent",
                      features=["invalid-input", "dtype-float32"],
                      reason=f"target out of range {EVIL}: silently returned a finite number",
                      expected_reason=f"torch checks bounds only on CUDA {EVIL}",
                      actual={"shape": [], "dtype": "float32", "values": [0.25]},
                      repro=_repro([1.0, 2.0])))
    return out


def make_doc(recs: list[Record] | None = None, skipped: dict[str, str] | None = None,
             provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    return document(records() if recs is None else recs, provenance or PROVENANCE,
                    {"tensorflow": "tensorflow is not installed"} if skipped is None
                    else skipped)


@functools.cache
def files() -> dict[str, str]:
    """The rendering of ``make_doc()``, shared by the tests that only read it."""
    return rendered(make_doc())


def _cells(doc: dict[str, Any] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    matrix = json.loads((files() if doc is None else rendered(doc))["matrix.json"])
    return {(row["feature"], label): cell for row in matrix["rows"]
            for label, cell in row["cells"].items()}


def test_matrix_cells() -> None:
    cells = _cells()
    assert cells[("indices", "torch")]["status"] == "diverges"
    assert cells[("indices", "torch")]["label"] == "✗ wrong · 3"
    assert cells[("indices", "torch")]["severity"] == "wrong on valid input"
    assert cells[("indices", "torch")]["worst_ulp"] == 80.0
    assert "80 ULP" in cells[("indices", "torch")]["detail"]
    assert "off by 8e-06 (80 ULP)" in cells[("indices", "torch")]["detail"]  # real numbers
    assert cells[("indices", "torch")]["anchor"].startswith("div-torch-value-")
    assert cells[("dtype-float32", "torch")]["status"] == "diverges"
    assert cells[("dtype-float16", "torch")]["known"] is False
    assert cells[("invalid-input", "torch")]["known"] is True  # the only divergence is known
    assert cells[("invalid-input", "torch")]["label"] == "! accepts invalid · 1 · known"
    assert cells[("invalid-input", "torch")]["detail"].startswith(
        "1 of 1 check silently accepts invalid input; e.g. target out of range")
    assert cells[("indices", "jax")]["status"] == "conforms"
    assert cells[("indices", "jax")]["label"] == "✓ 1"
    assert cells[("probabilities", "jax")] == {**cells[("probabilities", "jax")],
                                               "status": "unsupported",
                                               "detail": "jax has no probability targets"}
    assert cells[("gradients", "torch")]["status"] == "conforms"
    assert cells[("gradients", "jax")]["status"] == "not-run"
    assert cells[("indices", "tensorflow")] == {**cells[("indices", "tensorflow")],
                                                "status": "not-run",
                                                "detail": "tensorflow is not installed"}


def test_matrix_rows_follow_features_and_summary() -> None:
    report = build(make_doc())
    assert [row.feature for row in report.matrix.rows] == list(FEATURES)
    labels = [c.label for c in report.matrix.columns]
    assert labels == ["torch", "jax", "tensorflow"]  # torch first, then worst first
    summaries = dict(zip(labels, (s.text for s in report.matrix.summaries), strict=True))
    assert summaries["jax"].startswith("nothing silently wrong on valid input; "
                                       f"3/{len(FEATURES)} features conform")
    assert summaries["tensorflow"] == "not run: tensorflow is not installed"
    assert summaries["torch"].startswith(
        "1 behaviour silently wrong on valid input (1 new, 0 known) in class-index targets, "
        "reduction='mean', float16; 1 behaviour: silently accepts invalid input (0 new, 1 known)")
    assert "5 with findings (2 known)" in summaries["torch"]


def test_columns_go_worst_first_and_cells_stay_one_line() -> None:
    wrong = _value("plain", "keras", "diverges", 9.0)
    invalid = next(r for r in records() if r.check == "invalid")
    accepts = Record.from_dict(dict(invalid.as_dict(), impl="jax", expected_reason=None))
    rejects = Record(case="plain", impl="aaa", dtype="float32", device="cpu", check="value",
                     verdict="diverges", outcome="raises",  # type: ignore[arg-type]
                     features=["indices"], reason="raised ValueError", exception="ValueError: x")
    report = build(make_doc([*records(), wrong, accepts, rejects], {}))
    assert [c.label for c in report.matrix.columns] == ["torch", "keras", "jax", "aaa"]
    md_table = [line for line in files()["matrix.md"].splitlines() if line.startswith("| ")]
    assert all("…" not in line for line in md_table)  # details go to footnotes, never cut
    assert "[^1]: " in files()["matrix.md"]


def test_dtypes_not_requested_say_so() -> None:
    cells = _cells(make_doc(provenance=dict(PROVENANCE, dtypes=["float16", "float32"])))
    assert cells[("dtype-bfloat16", "torch")]["detail"] == "not requested"
    assert cells[("dtype-bfloat16", "torch")]["label"] == "· not requested"
    assert cells[("empty", "torch")]["detail"] == "no check covers it"
    assert _cells()[("dtype-bfloat16", "torch")]["detail"] == "no check covers it"  # unknown


def test_divergences_grouped_by_cause_with_minimal_case() -> None:
    groups = build(make_doc()).groups
    assert len(groups) == 2
    half = next(g for g in groups if g.check == "value")
    assert len(half.records) == 3
    assert half.minimal.case == "half-2"
    assert half.cause == "off by # (# ULP); allowed #"
    assert half.headline == "off by 2e-06 (20 ULP); allowed 1e-06"  # the minimal case's numbers
    assert [g.severity.rank for g in groups] == sorted(g.severity.rank for g in groups)
    text = files()["divergences.md"]
    assert "## Wrong on valid input: torch · value: off by 2e-06 (20 ULP); allowed 1e-06" in text
    assert "#" not in half.title
    assert text.count(f'<a id="{half.anchor}"></a>') == 1
    assert "`half-2`" in text
    assert text.count("```python") == 2


def test_schema_accepts_document_and_rejects_broken() -> None:
    doc = json.loads(json.dumps(make_doc()))
    jsonschema.Draft202012Validator.check_schema(schema())
    assert problems(doc) == []
    assert problems(merge([doc, doc])) == []
    broken = copy.deepcopy(doc)
    broken["records"][0]["verdict"] = "maybe"
    del broken["records"][1]["impl"]
    assert len(problems(broken)) == 2
    assert problems({"records": []})


def test_html_escapes_strings_from_spec_and_backends() -> None:
    html = files()["matrix.html"]
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    for name in ("divergences.md", "matrix.md"):  # Markdown shows code spans literally
        prose = re.sub(r"```.*?```|`[^`]*`", "", files()[name], flags=re.DOTALL)
        assert "<script" not in prose, name
        assert "&lt;script&gt;" in prose, name


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    doc = make_doc()
    first = render_report(doc, tmp_path / "a")
    shuffled = dict(doc, records=list(reversed(doc["records"])))
    second = render_report(shuffled, tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert {p.name for p in first} == {"accuracy.svg", "divergences.md", "matrix.html",
                                       "matrix.json", "matrix.md"}


def test_is_current(tmp_path: Path) -> None:
    doc = make_doc()
    write_results(tmp_path / "results.json", doc)
    render_report(doc, tmp_path)
    assert is_current(tmp_path) == []
    assert is_current(tmp_path, strict_plots=True) == []
    (tmp_path / "matrix.md").write_text("edited by hand\n")
    (tmp_path / "accuracy.svg").unlink()
    assert is_current(tmp_path) == ["accuracy.svg", "matrix.md"]


def test_merge_two_runs() -> None:
    torch_doc = make_doc([r for r in records() if r.impl == "torch"],
                         {"jax": "jax is not installed", "tensorflow": "not installed"})
    jax_doc = make_doc([r for r in records() if r.impl == "jax"],
                       {"torch": "torch is not installed", "tensorflow": "not installed"},
                       dict(PROVENANCE, created="2024-01-02T00:00:00+00:00"))
    doc = merge([torch_doc, jax_doc])
    assert doc["skipped"] == {"tensorflow": "not installed"}
    assert len(doc["provenance"]["merged"]) == 2
    assert len(doc["records"]) == len(records())
    cells = _cells(doc)
    assert cells[("indices", "torch")]["status"] == "diverges"
    assert cells[("indices", "jax")]["status"] == "conforms"
    assert cells[("indices", "tensorflow")]["status"] == "not-run"


def test_merge_later_record_wins_and_devices_become_columns() -> None:
    cpu = make_doc([_value("plain", "torch", "diverges", 9.0)], {})
    fixed = make_doc([_value("plain", "torch", "conforms", 0.5)], {})
    assert _cells(merge([cpu, fixed]))[("indices", "torch")]["status"] == "conforms"
    cuda = _value("plain", "torch", "conforms", 0.5)
    cuda.device = "cuda"
    labels = json.loads(rendered(merge([cpu, make_doc([cuda], {})]))["matrix.json"])
    assert [c["label"] for c in labels["columns"]] == ["torch@cpu", "torch@cuda"]


def test_accuracy_table() -> None:
    """Only results within the bound are measured; divergences are counted, not pooled."""
    accuracy = json.loads(files()["matrix.json"])["accuracy"]
    half = next(a for a in accuracy if a["column"] == "torch" and a["dtype"] == "float16")
    assert half["value"]["ulp"] is None  # all three diverge: outside the bound
    assert half["value"]["outside"] == 3
    plain = next(a for a in accuracy if a["column"] == "torch" and a["dtype"] == "float32")
    assert plain["value"]["ulp"] == {"n": 1, "median": 0.5, "p99": 0.5, "max": 0.5}
    assert plain["gradient"]["ulp"]["max"] == 0.0
    md = files()["matrix.md"]
    assert "| torch | float16 | value | 0 | - | - | - | - | 0 | 3 |" in md
    assert "| jax | float32 | value | 1 | 1 | 1 | - | - | 0 | 0 |" in md


def test_torchs_labelled_numerical_defects_are_said_to_be_so() -> None:
    """torch is the spec: its only known divergences are numerical defects of torch, and the
    summary and the cells call them that, not "silently wrong"."""
    defect = _value("half-overflow-mean", "torch", "diverges", 1e3, dtype="float16",
                    expected_reason="numerical defect of torch: its float16 mean overflows")
    wrong = _value("half-overflow-mean", "jax", "diverges", 1e3, dtype="float16",
                   expected_reason="the port accumulates in float16")
    matrix = json.loads(rendered(make_doc([defect, wrong], {}))["matrix.json"])
    summaries = {c["label"]: c["summary"] for c in matrix["columns"]}
    assert summaries["torch"].startswith(
        "nothing silently wrong on valid input but 1 labelled numerical defect of torch")
    assert summaries["jax"].startswith("1 behaviour silently wrong on valid input (0 new, 1 "
                                       "known)")
    labels = {(row["feature"], column): cell["label"]
              for row in matrix["rows"] for column, cell in row["cells"].items()}
    assert labels[("dtype-float16", "torch")] == "✗ defect of torch · 1"
    assert labels[("dtype-float16", "jax")] == "✗ wrong · 1 · known"


def test_accuracy_table_counts_accuracy_findings_with_their_figures() -> None:
    loose = _value("offset", "jax", "diverges", 1.5)
    loose.outcome = "less-accurate"  # type: ignore[assignment]
    loose.error = {**_error(1.5, True), "used": 0.4, "vs_torch": 900.0, "vs_used": 0.4,
                   "torch_used": 0.0004}
    fine = _value("plain", "jax", "conforms", 0.5)
    fine.error = {**_error(0.5, True), "used": 0.1, "vs_torch": 2.0}
    accuracy = json.loads(rendered(make_doc([loose, fine], {}))["matrix.json"])["accuracy"]
    (row,) = accuracy
    assert row["value"]["less_accurate"] == 1
    assert row["value"]["outside"] == 0
    assert row["value"]["vs_torch"]["max"] == 900.0
    assert row["value"]["used"]["max"] == 0.4
    assert row["value"]["ulp"]["max"] == 1.5


def test_report_command_rerenders_and_merges(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a", "b"):
        write_results(tmp_path / name / "results.json", make_doc())
    assert cli.main(["report", str(tmp_path / "a")]) == 0
    assert is_current(tmp_path / "a") == []
    out = tmp_path / "merged"
    assert cli.main(["report", "--merge", str(tmp_path / "a"), str(tmp_path / "b"),
                     "--out", str(out)]) == 0
    assert is_current(out) == []
    assert "merged" in json.loads((out / "results.json").read_text())["provenance"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    capsys.readouterr()


@pytest.mark.parametrize("content", [None, "{not json", '{"records": []}'])
def test_report_command_rejects_missing_or_malformed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None) -> None:
    folder = tmp_path / "run"
    if content is not None:
        folder.mkdir()
        (folder / "results.json").write_text(content)
    assert cli.main(["report", "--merge", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("ce-conformance: error: ")
    assert str(folder / "results.json") in err
    assert not (tmp_path / "out").exists()


def test_edge_documents_render(tmp_path: Path) -> None:
    empty = make_doc([], {})
    assert problems(empty) == []
    assert "No check diverges" in rendered(empty)["divergences.md"]
    shape = _value("shape", "torch", "diverges", 0.0)
    shape.error = {"ok": False, "max_abs": "inf", "max_rel": "inf", "max_ulp": "inf",
                   "allowed_abs": 0.0, "mismatch": "shape (2,) != expected ()"}
    skipped = Record(case="plain", impl="jax", dtype="float32", device="cpu", check="value",
                     verdict="not-run", features=["indices"])
    doc = json.loads(json.dumps(make_doc([shape, skipped], {})))
    assert problems(doc) == []
    cells = _cells(doc)
    assert cells[("indices", "torch")]["worst_ulp"] is None  # no ULP figure means anything
    assert "e.g. shape (2,) != expected ()" in cells[("indices", "torch")]["detail"]
    assert cells[("indices", "jax")]["status"] == "not-run"
    assert render_report(doc, tmp_path)
