"""The version axis (``conformance.report.versions``): runs of one implementation at several
framework versions, merged, are columns of their own, and each cause says the versions it
occurs in, from the runs' provenance; a report of one version set reads as it always did."""

from __future__ import annotations

import json
from typing import Any

from conformance.report import is_current, merge, problems, rendered
from conformance.report.folder import write_folder
from conformance.results import Record, document
from tests.test_report import PROVENANCE, _value

KERAS_OLD = {"keras": "3.13.2", "tensorflow": "2.21.0"}
KERAS_NEW = {"keras": "3.15.1", "tensorflow": "2.21.0"}
CASES = ("half-4", "half-2", "half-8")


def _run(frameworks: dict[str, str], wrong: bool, dtype: str = "float32",
         impl: str = "keras") -> dict[str, Any]:
    """One run of ``impl`` at ``frameworks``: three cases (each diverging when ``wrong``) and
    a plain case that conforms, with torch beside it."""
    recs = [_value(case, impl, "diverges" if wrong else "conforms", 10.0 if wrong else 0.5,
                   dtype=dtype) for case in CASES]
    recs += [_value("plain", impl, "conforms", 0.5, dtype=dtype),
             _value("plain", "torch", "conforms", 0.5, dtype=dtype)]
    prov = dict(PROVENANCE, frameworks={"torch": {"torch": "2.13.0"}, impl: frameworks})
    return document(recs, prov, {})


def _matrix(doc: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(rendered(doc)["matrix.json"])
    return data


def _keras_versions(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [g.get("versions") for g in _matrix(doc)["divergences"] if g["impl"] == "keras"]


def test_a_cause_of_the_older_version_only_is_fixed_in_the_newer() -> None:
    doc = merge([_run(KERAS_OLD, wrong=True), _run(KERAS_NEW, wrong=False)])
    assert problems(doc) == []
    assert {r["impl"]: r["versions"] for r in doc["records"]}["torch"] == {"torch": "2.13.0"}
    columns = [c["label"] for c in _matrix(doc)["columns"]]
    assert columns == ["torch", "keras (keras 3.13.2)", "keras (keras 3.15.1)"]
    cells = {label: cell["status"] for row in _matrix(doc)["rows"] if row["feature"] == "indices"
             for label, cell in row["cells"].items()}
    assert cells["keras (keras 3.13.2)"] == "diverges"
    assert cells["keras (keras 3.15.1)"] == "conforms"
    [versions] = _keras_versions(doc)
    assert versions["occurs"] == [KERAS_OLD]
    assert versions["without"] == [KERAS_NEW]
    assert versions["fixed_in"] == {"keras": "3.15.1"}
    assert versions["new_in"] is None
    assert versions["text"] == "occurs in keras 3.13.2; fixed in keras 3.15.1"
    files = rendered(doc)
    assert "- Versions: occurs in keras 3.13.2; fixed in keras 3.15.1" in files["divergences.md"]
    assert "## Versions" in files["matrix.md"]
    differing = files["matrix.md"].split("## Versions")[1].split("Then the others")[0]
    assert "occurs in keras 3.13.2; fixed in keras 3.15.1" in differing
    assert "<dt>Versions</dt><dd>occurs in keras 3.13.2; fixed in keras 3.15.1</dd>" in \
        files["matrix.html"]


def test_versions_come_from_the_records_not_the_order_of_the_runs() -> None:
    forward = merge([_run(KERAS_OLD, wrong=True), _run(KERAS_NEW, wrong=False)])
    backward = merge([_run(KERAS_NEW, wrong=False), _run(KERAS_OLD, wrong=True)])
    assert _keras_versions(forward) == _keras_versions(backward)
    assert rendered(forward)["matrix.json"] == rendered(backward)["matrix.json"]


def test_a_cause_of_the_newer_version_only_is_new_in_it() -> None:
    doc = merge([_run(KERAS_OLD, wrong=False), _run(KERAS_NEW, wrong=True)])
    [versions] = _keras_versions(doc)
    assert versions["fixed_in"] is None
    assert versions["new_in"] == {"keras": "3.15.1"}
    assert versions["text"] == "occurs in keras 3.15.1; new in keras 3.15.1; not in keras 3.13.2"


def test_a_cause_in_every_version_is_said_to_be() -> None:
    doc = merge([_run(KERAS_OLD, wrong=True), _run(KERAS_NEW, wrong=True)])
    [versions] = _keras_versions(doc)
    assert versions["occurs"] == [KERAS_OLD, KERAS_NEW]
    assert versions["fixed_in"] is None
    assert versions["new_in"] is None
    assert versions["text"] == ("occurs in keras 3.13.2; keras 3.15.1 "
                                "(every version that ran its checks)")
    differing = rendered(doc)["matrix.md"].split("## Versions")[1].split("Then the others")[0]
    assert "keras 3.15.1" not in differing


def test_a_cause_of_a_middle_version_only_is_neither_fixed_nor_new() -> None:
    keras_12 = {"keras": "3.12.1", "tensorflow": "2.21.0"}
    doc = merge([_run(keras_12, wrong=False), _run(KERAS_OLD, wrong=True),
                 _run(KERAS_NEW, wrong=False)])
    [versions] = _keras_versions(doc)
    assert versions["without"] == [keras_12, KERAS_NEW]
    assert versions["fixed_in"] is None
    assert versions["new_in"] is None
    assert versions["text"] == "occurs in keras 3.13.2; not in keras 3.12.1; keras 3.15.1"


def test_a_version_that_ran_none_of_its_checks_is_no_fix() -> None:
    """The older run asked for float64 only; the cause is float16's: not measured there."""
    doc = merge([_run(KERAS_OLD, wrong=False, dtype="float64"),
                 _run(KERAS_NEW, wrong=True, dtype="float16")])
    [versions] = _keras_versions(doc)
    assert versions["without"] == []
    assert versions["not_measured"] == [KERAS_OLD]
    assert versions["fixed_in"] is None
    assert versions["new_in"] is None
    assert versions["text"] == ("occurs in keras 3.15.1 (every version that ran its checks); "
                                "not measured in keras 3.13.2 (none of its checks ran)")


def test_the_label_names_only_the_frameworks_that_differ() -> None:
    older_tf = {"keras": "3.15.1", "tensorflow": "2.20.0"}
    doc = merge([_run(older_tf, wrong=True), _run(KERAS_NEW, wrong=False)])
    columns = [c["label"] for c in _matrix(doc)["columns"]]
    assert columns[1:] == ["keras (tensorflow 2.20.0)", "keras (tensorflow 2.21.0)"]
    [versions] = _keras_versions(doc)
    assert versions["text"] == "occurs in tensorflow 2.20.0; fixed in tensorflow 2.21.0"


def test_one_framework_alone_can_explain_a_cause() -> None:
    """Runs at keras 3.13.2 on tensorflow 2.21.0, and keras 3.15.1 on 2.20.0 and on 2.21.0:
    a cause of both keras 3.15.1 runs is new in keras 3.15.1, whatever the tensorflow (the
    pairs are not ordered as a whole: 2.20.0 < 2.21.0 but 3.15.1 > 3.13.2)."""
    tf_20 = {"keras": "3.15.1", "tensorflow": "2.20.0"}
    doc = merge([_run(KERAS_OLD, wrong=False), _run(tf_20, wrong=True),
                 _run(KERAS_NEW, wrong=True)])
    [versions] = _keras_versions(doc)
    assert versions["new_in"] == {"keras": "3.15.1"}
    assert versions["fixed_in"] is None
    assert versions["text"] == (
        "occurs in keras 3.15.1, tensorflow 2.20.0; keras 3.15.1, tensorflow 2.21.0; "
        "new in keras 3.15.1; not in keras 3.13.2, tensorflow 2.21.0")
    by_tf = merge([_run(KERAS_OLD, wrong=True), _run(tf_20, wrong=False),
                   _run(KERAS_NEW, wrong=True)])  # keras does not separate them; tf does
    [versions] = _keras_versions(by_tf)
    assert versions["new_in"] == {"tensorflow": "2.21.0"}
    assert versions["fixed_in"] is None


def test_release_numbers_compare_as_numbers() -> None:
    """3.9 comes before 3.13 (as text it would not); a local build tag does not matter."""
    doc = merge([_run({"torch": "2.13.0+cpu"}, wrong=False, impl="jax"),
                 _run({"torch": "2.9.1"}, wrong=True, impl="jax")])
    [versions] = [g["versions"] for g in _matrix(doc)["divergences"] if g["impl"] == "jax"]
    assert versions["text"] == "occurs in torch 2.9.1; fixed in torch 2.13.0+cpu"
    assert [c["label"] for c in _matrix(doc)["columns"]][1:] == \
        ["jax (torch 2.9.1)", "jax (torch 2.13.0+cpu)"]


def test_one_version_set_reads_as_it_always_did() -> None:
    """Merged or not, runs of one version per implementation render the same files, and a
    run's own records carry no versions (its provenance says them once)."""
    run = _run(KERAS_OLD, wrong=True)
    assert all("versions" not in r for r in run["records"])
    merged = merge([run])
    assert all(r["versions"] for r in merged["records"])
    assert _without_provenance(rendered(merged)) == _without_provenance(rendered(run))
    again = merge([_run(KERAS_OLD, wrong=False), _run(KERAS_OLD, wrong=True)])
    assert len(again["records"]) == len(run["records"])  # the later run's records win
    assert _without_provenance(rendered(again)) == _without_provenance(rendered(run))


def _without_provenance(files: dict[str, str]) -> dict[str, str]:
    """The rendered files, less the provenance sections (a merge lists its runs)."""
    cut = {"matrix.md": "## Provenance", "matrix.html": '<h2 id="provenance">'}
    return {name: text.split(cut[name])[0] if name in cut else text
            for name, text in files.items()}


def test_a_record_keeps_its_own_versions_and_ambiguous_ones_stay_unknown() -> None:
    old, new = _run(KERAS_OLD, wrong=True), _run(KERAS_NEW, wrong=False)
    both = merge([old, new])
    assert merge([both]) == both
    unlabelled = dict(both, records=[{k: v for k, v in r.items() if k != "versions"}
                                     for r in both["records"]])
    remerged = merge([unlabelled])
    keras = [r for r in remerged["records"] if r["impl"] == "keras"]
    assert all("versions" not in r for r in keras)  # two versions ran: which one is unknown
    assert all(r["versions"] == {"torch": "2.13.0"} for r in remerged["records"]
               if r["impl"] == "torch")


def test_a_framework_only_one_run_names_is_no_axis() -> None:
    """torch's CUDA builds name their CUDA version, the CPU build none."""
    doc = merge([_run({"torch": "2.12.1+cu130", "cuda": "13.0"}, wrong=True, impl="jax"),
                 _run({"torch": "2.13.0+cpu"}, wrong=False, impl="jax")])
    [versions] = [g["versions"] for g in _matrix(doc)["divergences"] if g["impl"] == "jax"]
    assert versions["text"] == "occurs in torch 2.12.1+cu130; fixed in torch 2.13.0+cpu"
    assert [c["label"] for c in _matrix(doc)["columns"]][1:] == \
        ["jax (torch 2.12.1+cu130)", "jax (torch 2.13.0+cpu)"]  # earliest first


def test_a_merged_folder_re_renders_from_its_results(tmp_path: Any) -> None:
    out = tmp_path / "merged"
    write_folder(out, merge([_run(KERAS_OLD, wrong=True), _run(KERAS_NEW, wrong=False)]))
    assert is_current(out) == []
    assert Record.from_dict(json.loads((out / "results.json").read_text())["records"][0]) \
        .versions is not None
